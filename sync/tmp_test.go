package sync

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStaleTmpFilesAreRemoved: a sync removes from each folder's tmp/ the
// files older than 36 hours (deliveries a crash interrupted) and keeps
// younger ones, which another program may still be writing.
func TestStaleTmpFilesAreRemoved(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("inbox"))
	fx.srv.Save(t, "Archive", testMsg("archive"))
	fx.sync(t)
	var left []string
	for _, name := range []string{"INBOX", "Archive"} {
		p := filepath.Join(fx.folder(t, name).Path(), "tmp", "1700000000.M1P1.crashed")
		if err := os.WriteFile(p, []byte("half a message"), 0o600); err != nil {
			t.Fatal(err)
		}
		left = append(left, p)
	}
	fx.sync(t)
	for _, p := range left {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a fresh tmp/ file was removed: %v", err)
		}
	}
	// The files' change time cannot be set back: make "old" mean "older
	// than now" instead.
	defer func(d time.Duration) { staleTmpAge = d }(staleTmpAge)
	staleTmpAge = time.Nanosecond
	time.Sleep(10 * time.Millisecond)
	fx.sync(t)
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("stale tmp/ file %s not removed (%v)", p, err)
		}
	}
	fx.assertInSync(t)
}
