// Package crashpoint counts the durable steps of a run (a state commit, a
// command that changes the server, a rename or unlink in the Maildir) so
// that tests can stop the process right after any one of them.
//
// It is inert unless the environment asks for it:
//
//	MAILSYNC_CRASH_AFTER=N   exit with status 86 right after step N (1-based)
//	MAILSYNC_STEP_LOG=FILE   append one line per step ("N kind") to FILE
//
// os.Exit skips deferred functions and buffered output, as a kill would;
// what the kernel already has (written files, committed bbolt pages) stays,
// which is what a crash of the process, not of the machine, leaves.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	gosync "sync"
)

// ExitCode is the status a process exits with at its crash point.
const ExitCode = 86

var (
	mu      gosync.Mutex
	count   int
	after   = envInt("MAILSYNC_CRASH_AFTER")
	logPath = os.Getenv("MAILSYNC_STEP_LOG")
)

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// Step records that a durable step of the given kind has just completed.
// It is safe for concurrent use.
func Step(kind string) {
	if after <= 0 && logPath == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	count++
	if logPath != "" {
		if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintf(f, "%d %s\n", count, kind)
			f.Close()
		}
	}
	if after > 0 && count == after {
		fmt.Fprintf(os.Stderr, "mailsync: crashpoint: stopping after step %d (%s)\n", count, kind)
		os.Exit(ExitCode)
	}
}
