//go:build linux

package maildir

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailsync/mailsync/model"
)

// TestUnchangedWatched: a folder watched (Watch) since before its
// listing tells Unchanged that only its own deliveries, renames and
// removals happened without reading the directories again; any other
// change (another program's, another Folder's, even one undone since)
// makes it read them, and the answer is the reading's.
func TestUnchangedWatched(t *testing.T) {
	m, f := newFolder(t, "INBOX")
	keys := deliverFour(t, f)
	start := func() {
		t.Helper()
		f.Watch()
		if _, err := f.List(); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(step string, want, read bool) {
		t.Helper()
		before := unchangedReads.Load()
		ok, err := f.Unchanged()
		if ok != want || err != nil {
			t.Fatalf("%s: Unchanged = %v, %v; want %v", step, ok, err, want)
		}
		if got := unchangedReads.Load() != before; got != read {
			t.Fatalf("%s: Unchanged read the directories: %v, want %v", step, got, read)
		}
	}
	start()
	expect("nothing done", true, false)

	start()
	if _, err := f.SetFlags(keys[0], model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	if _, err := f.MoveToCur(keys[1]); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(keys[1]); err != nil {
		t.Fatal(err)
	}
	en, err := f.DeliverSync([]byte("Subject: y\n\nbody\n"), 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetFlags(en.Key, model.FlagSeen); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetFlags(en.Key, model.FlagSeen|model.FlagReplied); err != nil {
		t.Fatal(err)
	}
	expect("own changes", true, false)
	expect("the watch ended", true, true)

	// Another program renames a file and renames it back: the
	// directories are as expected, which only a reading can tell.
	start()
	other, _ := f.Lookup(keys[2])
	moved := filepath.Join(f.Path(), "cur", keys[2]+":2,FS")
	if err := os.Rename(f.EntryPath(other), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, f.EntryPath(other)); err != nil {
		t.Fatal(err)
	}
	expect("foreign rename undone", true, true)

	start()
	if err := os.Rename(f.EntryPath(other), moved); err != nil {
		t.Fatal(err)
	}
	expect("foreign rename", false, true)

	// Another Folder of the same directory is another program too.
	start()
	twin, err := m.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := twin.SetFlags(keys[3], model.FlagDraft); err != nil {
		t.Fatal(err)
	}
	expect("another Folder's rename", false, true)

	// A delivery by another program, and a subdirectory.
	start()
	if err := os.WriteFile(filepath.Join(f.Path(), "new", "999.M1P1.other"), []byte("Subject: z\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("foreign delivery", false, true)
	start()
	if err := os.Mkdir(filepath.Join(f.Path(), "cur", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	expect("a subdirectory", true, true) // not a message file: the reading skips it
	if err := os.Remove(filepath.Join(f.Path(), "cur", "sub")); err != nil {
		t.Fatal(err)
	}

	// Watched only after the listing: the watch proves nothing.
	if _, err := f.List(); err != nil {
		t.Fatal(err)
	}
	f.Watch()
	expect("watched after the listing", true, true)

	// Unwatch ends a watch: Unchanged reads.
	start()
	f.Unwatch()
	expect("unwatched", true, true)
}

// TestWatchEvents: the events a watch cannot match with an expected
// change of its own (a queue overflow, an unknown name, a directory)
// break it.
func TestWatchEvents(t *testing.T) {
	w := &watch{wd: [2]int32{1, 2}, want: map[watchEvent]int{}}
	ev := func(wd int32, mask uint32, name string) []byte {
		n := (len(name) + 1 + 15) &^ 15
		b := make([]byte, unix.SizeofInotifyEvent+n)
		binary.NativeEndian.PutUint32(b[0:], uint32(wd))
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(n))
		copy(b[unix.SizeofInotifyEvent:], name)
		return b
	}
	w.expect("cur", false, "a:2,S")
	w.expect("cur", true, "a:2,FS")
	w.expect("new", true, "b")
	w.events(append(append(ev(2, unix.IN_MOVED_FROM, "a:2,S"), ev(2, unix.IN_MOVED_TO, "a:2,FS")...), ev(1, unix.IN_MOVED_TO, "b")...))
	if w.broken || len(w.want) != 0 {
		t.Fatalf("own changes: broken %v, still expected %v", w.broken, w.want)
	}
	for _, c := range []struct {
		what string
		b    []byte
	}{
		{"overflow", ev(-1, unix.IN_Q_OVERFLOW, "")},
		{"unknown name", ev(2, unix.IN_MOVED_TO, "c:2,S")},
		{"same name, other directory", ev(1, unix.IN_MOVED_TO, "a:2,FS")},
		{"a directory", ev(2, unix.IN_CREATE|unix.IN_ISDIR, "x")},
		{"the directory removed", ev(2, unix.IN_DELETE_SELF, "")},
		{"truncated", ev(2, unix.IN_MOVED_TO, "a:2,FS")[:20]},
	} {
		w := &watch{wd: [2]int32{1, 2}, want: map[watchEvent]int{}}
		w.expect("cur", true, "a:2,FS")
		w.events(c.b)
		if !w.broken && c.what != "truncated" {
			t.Errorf("%s: not broken", c.what)
		}
		if c.what == "truncated" && len(w.want) == 0 {
			t.Errorf("truncated: matched")
		}
	}
}

// TestWatchManyChanges: a watch reads its queue as the changes come, so
// that a pass of many deliveries and renames holds few names and never
// overflows the kernel's queue.
func TestWatchManyChanges(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	f.Watch()
	if _, err := f.List(); err != nil {
		t.Fatal(err)
	}
	most := 0
	for i := 0; i < 3*expectBatch+7; i++ {
		en, err := f.Deliver([]byte("Subject: x\n\nbody\n"), 0, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := f.SetFlags(en.Key, model.FlagSeen); err != nil {
				t.Fatal(err)
			}
		}
		f.mu.Lock()
		most = max(most, len(f.watch.want))
		f.mu.Unlock()
	}
	if most > expectBatch {
		t.Errorf("the watch held %d names at once, want at most %d", most, expectBatch)
	}
	before := unchangedReads.Load()
	if ok, err := f.Unchanged(); !ok || err != nil {
		t.Fatalf("Unchanged = %v, %v", ok, err)
	}
	if unchangedReads.Load() != before {
		t.Error("Unchanged read the directories")
	}
}

// TestFindFileAndSetKnown: FindFile finds a file where Deliver and
// SetFlags name it (and not under another order of its letters);
// SetKnown makes the files found the ones Lookup and SetFlags work on
// without a listing, and Unchanged then answers from the watch alone:
// true after our own changes, false (no reading to compare with) after
// another program's.
func TestFindFileAndSetKnown(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	plain, err := f.DeliverSync([]byte("Subject: a\n\nbody\n"), 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	seen, err := f.DeliverSync([]byte("Subject: b\n\nbody\n"), model.FlagSeen|model.FlagFlagged, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	odd, err := f.DeliverSync([]byte("Subject: c\n\nbody\n"), model.FlagSeen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.EntryPath(odd), filepath.Join(f.Path(), "cur", odd.Key+":2,Sa")); err != nil {
		t.Fatal(err)
	}
	if e, ok := f.FindFile(plain.Key, 0, ""); !ok || e.Dir != "new" || e.Name != plain.Key || e.Ino != plain.Ino || !e.ModTime.IsZero() {
		t.Fatalf("new/: %+v %v", e, ok)
	}
	if e, ok := f.FindFile(seen.Key, model.FlagSeen|model.FlagFlagged, ""); !ok || e.Name != seen.Key+":2,FS" {
		t.Fatalf("cur/: %+v %v", e, ok)
	}
	if _, ok := f.FindFile(seen.Key, model.FlagSeen, ""); ok {
		t.Fatal("found under other flags")
	}
	if e, ok := f.FindFile(odd.Key, model.FlagSeen, "a"); !ok || e.Name != odd.Key+":2,Sa" {
		t.Fatalf("a keyword letter: %+v %v", e, ok)
	}
	if _, ok := f.FindFile("../x", 0, ""); ok {
		t.Fatal("an invalid key found")
	}

	for _, foreign := range []bool{false, true} {
		f.Watch()
		e1, _ := f.FindFile(seen.Key, model.FlagSeen|model.FlagFlagged, "")
		f.SetKnown([]Entry{e1})
		if _, err := f.SetFlags(seen.Key, model.FlagSeen); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Deliver([]byte("Subject: d\n\nbody\n"), model.FlagSeen, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if foreign {
			if err := os.Rename(f.EntryPath(plain), filepath.Join(f.Path(), "cur", plain.Key+":2,S")); err != nil {
				t.Fatal(err)
			}
		}
		before := unchangedReads.Load()
		if ok, err := f.Unchanged(); ok != !foreign || err != nil {
			t.Fatalf("another program's change %v: Unchanged = %v, %v", foreign, ok, err)
		}
		if unchangedReads.Load() != before {
			t.Fatal("Unchanged read the directories of a folder known without a listing")
		}
		if _, err := f.SetFlags(seen.Key, model.FlagSeen|model.FlagFlagged); err != nil {
			t.Fatal(err)
		}
		seen, _ = f.Lookup(seen.Key)
	}
}

// TestForgetLocations: after ForgetLocations the Folder holds no name of
// the files it delivered, a Lookup still finds them (reading the
// directories), and Unchanged answers from the watch alone: true when
// every change was the Folder's own, false without a watch.
func TestForgetLocations(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	f.Watch() // before the listing, as the sync engine does
	if _, err := f.List(); err != nil {
		t.Fatal(err)
	}
	keys := deliverFour(t, f)
	f.mu.Lock()
	remembered := len(f.cache)
	f.mu.Unlock()
	if remembered != 4 {
		t.Fatalf("%d locations remembered after four deliveries", remembered)
	}
	f.ForgetLocations()
	f.mu.Lock()
	remembered = len(f.cache)
	f.mu.Unlock()
	if remembered != 0 {
		t.Fatalf("%d locations remembered after ForgetLocations", remembered)
	}
	if ok, err := f.Unchanged(); err != nil || !ok {
		t.Fatalf("watched, own deliveries only: Unchanged = %v, %v", ok, err)
	}
	for _, k := range keys {
		if _, err := f.Lookup(k); err != nil {
			t.Fatalf("lookup of %s after ForgetLocations: %v", k, err)
		}
	}
	// Without a watch there is nothing to compare a reading with.
	if _, err := f.List(); err != nil {
		t.Fatal(err)
	}
	deliverFour(t, f)
	f.ForgetLocations()
	if ok, err := f.Unchanged(); err != nil || ok {
		t.Fatalf("unwatched after ForgetLocations: Unchanged = %v, %v, want false", ok, err)
	}
}
