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
	fx := syncedInboxAndArchive(t)
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

// TestStagedLeftoversAreRemoved: a download staged in tmp/ by a run
// killed before it recorded it (another folder's worker hit the kill:
// TestCrashAtEveryStep saw one under load) is removed by the next run,
// in a folder it syncs and in one it skips, while a fresh tmp/ file of
// another program stays. A dry run removes nothing.
func TestStagedLeftoversAreRemoved(t *testing.T) {
	fx := syncedInboxAndArchive(t)
	var staged []string
	for _, name := range []string{"INBOX", "Archive"} {
		p := filepath.Join(fx.folder(t, name).Path(), "tmp", "1700000000.M1P1Q1.host.staged")
		if err := os.WriteFile(p, testMsg("half a download"), 0o600); err != nil {
			t.Fatal(err)
		}
		staged = append(staged, p)
	}
	other := filepath.Join(fx.folder(t, "INBOX").Path(), "tmp", "1700000000.M2P2.other")
	if err := os.WriteFile(other, []byte("another program's delivery"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the next run starts after they were made
	if _, err := fx.run(t, Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range staged {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a dry run removed %s: %v", p, err)
		}
	}
	fx.srv.Save(t, "INBOX", testMsg("inbox 2")) // INBOX is synced, Archive skipped
	if sum := fx.sync(t); sum.Downloaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	for _, p := range staged {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("staged leftover %s not removed (%v)", p, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another program's fresh tmp/ file was removed: %v", err)
	}
	os.Remove(other)
	fx.assertInSync(t)
}

// syncedInboxAndArchive is a fixture whose INBOX and Archive hold a
// message each, synced.
func syncedInboxAndArchive(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("inbox"))
	fx.srv.Save(t, "Archive", testMsg("archive"))
	fx.sync(t)
	return fx
}
