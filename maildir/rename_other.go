//go:build !unix

package maildir

import "os"

// renameFile renames a message file (see the Unix version).
func renameFile(from, to string) error { return os.Rename(from, to) }
