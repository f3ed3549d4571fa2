// Package crashpoint counts the durable steps of a run (a state commit, a
// command that changes the server, a rename or unlink in the Maildir) so
// that tests can stop the process right after any one of them.
//
// It does something only in binaries built with the mailsync_failpoints
// build tag (the crash tests build their helper that way); in every other
// build, release binaries included, Step is an empty function and the
// environment is never read. In a failpoint build:
//
//	MAILSYNC_CRASH_AFTER=N   exit with status 86 right after step N (1-based)
//	MAILSYNC_STEP_LOG=FILE   append one line per step ("N kind") to FILE
//
// os.Exit skips deferred functions and buffered output, as a kill would;
// what the kernel already has (written files, committed bbolt pages) stays,
// which is what a crash of the process, not of the machine, leaves.
package crashpoint

// ExitCode is the status a process exits with at its crash point.
const ExitCode = 86

// Tag is the build tag that turns the step counter on.
const Tag = "mailsync_failpoints"
