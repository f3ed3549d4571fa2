//go:build unix

package maildir

import (
	"os"
	"syscall"
)

// renameFile renames a message file: rename(2) alone. os.Rename first
// lstats the new name (to refuse to replace a directory), one more
// lookup in a directory of tens of thousands of names for each delivery
// and flag change; a message file's new name is never a directory's.
// Errors are os.Rename's (*os.LinkError).
func renameFile(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
