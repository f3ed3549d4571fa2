package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoveFolder(t *testing.T) {
	md, _ := Open(t.TempDir())
	md.CreateFolder("INBOX")
	f, _ := md.CreateFolder("A")
	md.CreateFolder("A/B")
	if _, err := f.DeliverSync([]byte("x\n"), 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := md.RemoveFolder("A"); err != nil {
		t.Fatal(err)
	}
	names, _ := md.Folders()
	if strings.Join(names, ",") != "A/B,INBOX" {
		t.Errorf("after removing A: %v (A/B must stay)", names)
	}
	ents, _ := os.ReadDir(md.Root())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "..") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if err := md.RemoveFolder("A"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removing a missing folder: %v", err)
	}
	if err := md.RemoveFolder("INBOX"); err == nil {
		t.Error("INBOX removed")
	}
	// A symlinked folder loses its link, not what it points to.
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(outside, "cur"), 0o700)
	os.Symlink(outside, filepath.Join(md.Root(), ".L"))
	if err := md.RemoveFolder("L"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "cur")); err != nil {
		t.Errorf("removing a symlinked folder removed its target: %v", err)
	}
}

func TestRenameFolder(t *testing.T) {
	md, _ := Open(t.TempDir())
	md.CreateFolder("INBOX")
	md.CreateFolder("A")
	md.CreateFolder("A/B")
	md.CreateFolder("AB")
	md.CreateFolder("C")
	moves, err := md.RenameFolder("A", "X/Y")
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) != 2 {
		t.Errorf("moves %v", moves)
	}
	names, _ := md.Folders()
	if got := strings.Join(names, ","); got != "AB,C,INBOX,X/Y,X/Y/B" {
		t.Errorf("after rename: %s", got)
	}
	if _, err := md.RenameFolder("C", "AB"); !errors.Is(err, ErrFolderExists) {
		t.Errorf("rename onto an existing folder: %v", err)
	}
	if _, err := md.RenameFolder("Nope", "Z"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rename of a missing folder: %v", err)
	}
	if _, err := md.RenameFolder("C", "C/D"); err == nil {
		t.Error("renamed into itself")
	}
	if _, err := md.RenameFolder("INBOX", "Old"); err == nil {
		t.Error("INBOX renamed")
	}
}

func TestChangeStampAndConfined(t *testing.T) {
	md, _ := Open(t.TempDir())
	f, _ := md.CreateFolder("INBOX")
	before := f.ChangeStamp()
	if !before.Complete() {
		t.Fatal("stamp of an existing folder is incomplete")
	}
	time.Sleep(10 * time.Millisecond)
	f.DeliverSync([]byte("x\n"), 0, time.Time{})
	if f.ChangeStamp() == before {
		t.Error("stamp unchanged by a delivery")
	}
	if err := md.Confined(f); err != nil {
		t.Error(err)
	}
	outside := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(outside, d), 0o700)
	}
	os.Symlink(outside, filepath.Join(md.Root(), ".Evil"))
	evil, _ := md.Folder("Evil")
	if err := md.Confined(evil); err == nil || !strings.Contains(err.Error(), `"Evil"`) {
		t.Errorf("symlink out of the root: %v", err)
	}
	// A folder whose cur/ alone points outside is refused too.
	g, _ := md.CreateFolder("Half")
	os.Remove(filepath.Join(g.Path(), "cur"))
	os.Symlink(filepath.Join(outside, "cur"), filepath.Join(g.Path(), "cur"))
	if err := md.Confined(g); err == nil {
		t.Error("cur/ linked out of the root accepted")
	}
}
