package sync

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/maildir"
)

// TestFullDisk syncs into a Maildir on a 1 MiB tmpfs that cannot hold the
// mailbox: the run fails with a clear error, the state names only files
// that are really there, nothing is left in tmp/, and once there is room
// a rerun completes the sync.
func TestFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	fx := newFixture(t, nil)
	fx.acct.Maildir = filepath.Join(mnt, "Mail")
	for i := 0; i < 20; i++ {
		fx.srv.Save(t, "INBOX", []byte(fmt.Sprintf("Subject: big %d\nMessage-ID: <big%d@t>\n\n%s\n", i, i, strings.Repeat("0123456789abcdef\n", 6000))))
	}
	md, err := maildir.Open(fx.acct.Maildir)
	if err != nil {
		t.Fatal(err)
	}
	fx.md = md
	sum, err := fx.run(t, Options{})
	if err == nil {
		t.Fatal("a sync into a full disk succeeded")
	}
	if len(sum.Errors) == 0 || !strings.Contains(strings.Join(sum.Errors, "\n"), "no space left on device") {
		t.Fatalf("errors do not say the disk is full: %v %q", err, sum.Errors)
	}
	inbox := fx.folder(t, "INBOX")
	tmp, _ := os.ReadDir(filepath.Join(inbox.Path(), "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("%d files left in tmp/", len(tmp))
	}
	entries, _ := inbox.Scan()
	keys := map[string]bool{}
	for _, en := range entries {
		keys[en.Key] = true
	}
	for _, key := range pairKeys(t, fx, "INBOX") {
		if !keys[key] {
			t.Fatalf("state names %s, which is not on disk", key)
		}
	}
	if out, err := exec.Command("mount", "-o", "remount,size=8m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	fx.sync(t)
	fx.assertInSync(t)
}
