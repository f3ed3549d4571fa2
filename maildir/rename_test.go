package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestRenameFile: renameFile renames, and fails as os.Rename does (a
// *os.LinkError that is fs.ErrNotExist when the file is gone).
func TestRenameFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := renameFile(a, b); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(b); err != nil || string(got) != "x" {
		t.Fatalf("after the rename: %q %v", got, err)
	}
	err := renameFile(a, b)
	var le *os.LinkError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &le) || le.Old != a || le.New != b {
		t.Fatalf("renaming a missing file: %#v", err)
	}
}
