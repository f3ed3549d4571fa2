package maildir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
)

// newFolder creates folder name in a fresh Maildir and checks the
// Maildir invariants when the test ends: tmp/ is empty, every file in
// new/ and cur/ has a key of its own.
func newFolder(t testing.TB, name string) (*Maildir, *Folder) {
	t.Helper()
	md, err := Open(filepath.Join(t.TempDir(), "Mail"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := md.CreateFolder(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkInvariants(t, f) })
	return md, f
}

func checkInvariants(t testing.TB, f *Folder) {
	t.Helper()
	if !f.Exists() {
		return
	}
	tmp, err := os.ReadDir(filepath.Join(f.Path(), "tmp"))
	if err != nil {
		t.Errorf("invariant: %v", err)
	}
	for _, e := range tmp {
		t.Errorf("invariant: tmp/%s left behind", e.Name())
	}
	keys := make(map[string]string)
	for _, d := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(f.Path(), d))
		if err != nil {
			t.Errorf("invariant: %v", err)
			continue
		}
		for _, e := range ents {
			key, _, _ := ParseName(e.Name())
			if other, ok := keys[key]; ok {
				t.Errorf("invariant: key %s in both %s and %s/%s", key, other, d, e.Name())
			}
			keys[key] = d + "/" + e.Name()
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	md, err := Open(filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatalf("Open of a missing root: %v", err)
	}
	if md.Exists() {
		t.Error("Exists() on a missing root")
	}
	if _, err := md.Folders(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Folders() on a missing root: %v, want ErrNotExist", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file); err == nil {
		t.Error("Open of a file succeeded")
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := md.Folder("a//b"); err == nil {
		t.Error("Folder(\"a//b\") succeeded")
	}
}

func TestCreateFolderAndFolders(t *testing.T) {
	md, err := Open(filepath.Join(t.TempDir(), "deep", "Mail"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Work/Reports", "a.b", "100%", "Entwürfe", "INBOX/Sub", "Work"}
	for _, n := range names {
		f, err := md.CreateFolder(n)
		if err != nil {
			t.Fatalf("CreateFolder(%q): %v", n, err)
		}
		if !f.Exists() {
			t.Errorf("%q: Exists() false after CreateFolder", n)
		}
		if _, err := os.Stat(filepath.Join(f.Path(), "maildirfolder")); err != nil {
			t.Errorf("%q: %v", n, err)
		}
		if _, err := md.CreateFolder(n); err != nil { // idempotent
			t.Errorf("second CreateFolder(%q): %v", n, err)
		}
	}
	if md.Exists() {
		t.Error("Exists() true before INBOX was created")
	}
	got, err := md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Folders() = %q, want %q", got, want)
	}

	inbox, err := md.CreateFolder("inbox")
	if err != nil {
		t.Fatal(err)
	}
	if inbox.Path() != md.Root() || inbox.Name() != model.Inbox {
		t.Errorf("INBOX is %q at %s", inbox.Name(), inbox.Path())
	}
	if _, err := os.Stat(filepath.Join(md.Root(), "maildirfolder")); err == nil {
		t.Error("maildirfolder in the root")
	}
	if !md.Exists() {
		t.Error("Exists() false after creating INBOX")
	}

	// Junk that is not a folder.
	root := md.Root()
	os.Mkdir(filepath.Join(root, ".junk"), 0o700)                        // no cur/new/tmp
	os.MkdirAll(filepath.Join(root, ".half", "cur"), 0o700)              // only cur
	os.WriteFile(filepath.Join(root, ".file"), nil, 0o600)               // a file
	os.MkdirAll(filepath.Join(root, "plain", "cur"), 0o700)              // no leading dot
	for _, d := range []string{".INBOX", ".x..y", ".bad%41", ".inbox"} { // non-canonical
		for _, s := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(filepath.Join(root, d, s), 0o700)
		}
	}
	got, err = md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, model.Inbox)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Folders() with junk = %q, want %q", got, want)
	}

	// A name that is a file on disk cannot be created.
	os.WriteFile(filepath.Join(root, ".Blocked"), nil, 0o600)
	if _, err := md.CreateFolder("Blocked"); err == nil {
		t.Error("CreateFolder over a file succeeded")
	}
}

func TestDeliver(t *testing.T) {
	_, f := newFolder(t, "Deliver")
	body := []byte("From: a@example.org\r\nSubject: x\n\nlone\rCR, 8-bit \xe4\xff\x00 and no final newline")
	date := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, tt := range []struct {
		flags model.Flags
		dir   string
		info  string
	}{
		{0, "new", ""},
		{model.FlagSeen, "cur", "S"},
		{model.FlagSeen | model.FlagFlagged | model.FlagDraft, "cur", "DFS"},
	} {
		for _, sync := range []bool{false, true} {
			deliver := f.Deliver
			if sync {
				deliver = f.DeliverSync
			}
			e, err := deliver(body, tt.flags, date)
			if err != nil {
				t.Fatal(err)
			}
			wantName := e.Key
			if tt.dir == "cur" {
				wantName += ":2," + tt.info
			}
			if e.Dir != tt.dir || e.Name != wantName || e.Flags != tt.flags || e.Info != tt.info {
				t.Errorf("Deliver(%v) = %+v, want %s/%s", tt.flags, e, tt.dir, wantName)
			}
			if !keyRE.MatchString(e.Key) {
				t.Errorf("key %q", e.Key)
			}
			p := filepath.Join(f.Path(), tt.dir, wantName)
			if f.EntryPath(e) != p || e.Path(f) != p {
				t.Errorf("EntryPath = %s, want %s", f.EntryPath(e), p)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, body) {
				t.Errorf("stored %q, want %q", got, body)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.ModTime().Equal(date) || !e.ModTime.Equal(date) {
				t.Errorf("mtime %v, entry %v, want %v", fi.ModTime(), e.ModTime, date)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", fi.Mode())
			}
			if e.Size != int64(len(body)) {
				t.Errorf("Size = %d, want %d", e.Size, len(body))
			}
			rb, re, err := f.ReadFile(e.Key)
			if err != nil || !bytes.Equal(rb, body) || re.Name != e.Name {
				t.Errorf("ReadFile = %q, %+v, %v", rb, re, err)
			}
		}
	}
	// A zero mtime leaves the time of writing.
	before := time.Now().Add(-time.Second)
	e, err := f.Deliver(nil, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if e.ModTime.Before(before) || e.Size != 0 {
		t.Errorf("Deliver without mtime: %+v", e)
	}
}

func TestDeliverFailureLeavesNothing(t *testing.T) {
	_, f := newFolder(t, "Fail")
	// Make cur/ unusable: the rename fails and the tmp file must go.
	cur := filepath.Join(f.Path(), "cur")
	if err := os.Remove(cur); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cur, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Deliver([]byte("x"), model.FlagSeen, time.Time{}); err == nil {
		t.Fatal("Deliver into a broken folder succeeded")
	} else if !strings.Contains(err.Error(), f.Path()) {
		t.Errorf("error %q does not name the folder", err)
	}
	os.Remove(cur)
	os.Mkdir(cur, 0o700)
	// checkInvariants verifies tmp/ is empty.
}

func TestSetFlags(t *testing.T) {
	_, f := newFolder(t, "Flags")
	e, err := f.DeliverSync([]byte("m"), 0, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Empty flags on a message in new/: nothing to do.
	if got, err := f.SetFlags(e.Key, 0); err != nil || got.Dir != "new" || got.Name != e.Key {
		t.Fatalf("SetFlags(0) on new = %+v, %v", got, err)
	}
	// new/ -> cur/.
	got, err := f.SetFlags(e.Key, model.FlagSeen)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != "cur" || got.Name != e.Key+":2,S" || got.Flags != model.FlagSeen {
		t.Fatalf("SetFlags(S) = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(f.Path(), "new", e.Key)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new/%s still there: %v", e.Key, err)
	}

	// Keywords added by another program are kept, in ASCII order.
	p := filepath.Join(f.Path(), "cur", e.Key+":2,Sba")
	if err := os.Rename(f.EntryPath(got), p); err != nil {
		t.Fatal(err)
	}
	got, err = f.SetFlags(e.Key, model.FlagFlagged|model.FlagReplied|model.FlagSeen)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != e.Key+":2,FRSab" || got.Info != "FRSab" {
		t.Fatalf("SetFlags(FRS) = %+v", got)
	}

	// Unchanged: no rename, no mtime or ctime change.
	fi1, _ := os.Stat(f.EntryPath(got))
	time.Sleep(20 * time.Millisecond)
	again, err := f.SetFlags(e.Key, model.FlagFlagged|model.FlagReplied|model.FlagSeen)
	if err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(f.EntryPath(again))
	if err != nil || again.Name != got.Name {
		t.Fatalf("unchanged SetFlags = %+v, %v", again, err)
	}
	if !fi1.ModTime().Equal(fi2.ModTime()) || !changeTime(fi1).Equal(changeTime(fi2)) {
		t.Errorf("unchanged SetFlags touched the file")
	}
	if !fi2.ModTime().Equal(time.Unix(1e9, 0)) {
		t.Errorf("SetFlags changed the mtime to %v", fi2.ModTime())
	}

	// Clearing every flag keeps the keywords in cur/.
	got, err = f.SetFlags(e.Key, 0)
	if err != nil || got.Name != e.Key+":2,ab" || got.Flags != 0 {
		t.Fatalf("SetFlags(0) = %+v, %v", got, err)
	}

	// Renamed behind our back: found again through the key.
	os.Rename(f.EntryPath(got), filepath.Join(f.Path(), "cur", e.Key+":2,Tab"))
	got, err = f.SetFlags(e.Key, model.FlagDraft)
	if err != nil || got.Name != e.Key+":2,Dab" {
		t.Fatalf("SetFlags after a foreign rename = %+v, %v", got, err)
	}

	entries, err := f.Scan()
	if err != nil || len(entries) != 1 || entries[0].Name != got.Name {
		t.Fatalf("Scan = %+v, %v", entries, err)
	}
}

func TestVanished(t *testing.T) {
	_, f := newFolder(t, "Gone")
	e, err := f.Deliver([]byte("m"), model.FlagSeen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lookup(e.Key); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.EntryPath(e)); err != nil { // another program deletes it
		t.Fatal(err)
	}
	if _, err := f.Lookup(e.Key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lookup: %v, want ErrNotExist", err)
	}
	if _, err := f.SetFlags(e.Key, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SetFlags: %v, want ErrNotExist", err)
	}
	if _, _, err := f.ReadFile(e.Key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile: %v, want ErrNotExist", err)
	}
	if err := f.Remove(e.Key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove: %v, want ErrNotExist", err)
	} else if !strings.Contains(err.Error(), f.Path()) {
		t.Errorf("error %q does not name the folder", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "k:2,S"} {
		if _, err := f.Lookup(bad); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Lookup(%q): %v, want ErrNotExist", bad, err)
		}
	}

	// Remove after a foreign rename removes the renamed file.
	e, _ = f.Deliver([]byte("m"), 0, time.Time{})
	f.Lookup(e.Key) // cache new/<key>
	os.Rename(f.EntryPath(e), filepath.Join(f.Path(), "cur", e.Key+":2,RS"))
	if err := f.Remove(e.Key); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(e.Key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second Remove: %v", err)
	}
	if entries, err := f.Scan(); err != nil || len(entries) != 0 {
		t.Errorf("Scan after Remove = %+v, %v", entries, err)
	}
}

func TestScanSkips(t *testing.T) {
	_, f := newFolder(t, "Skips")
	e1, _ := f.Deliver([]byte("1"), 0, time.Time{})
	e2, _ := f.Deliver([]byte("22"), model.FlagSeen, time.Time{})
	os.WriteFile(filepath.Join(f.Path(), "cur", ".hidden:2,S"), nil, 0o600)
	os.Mkdir(filepath.Join(f.Path(), "cur", "adir"), 0o700)
	os.Symlink(f.EntryPath(e1), filepath.Join(f.Path(), "cur", "alink:2,S"))
	os.WriteFile(filepath.Join(f.Path(), "tmp", "intmp"), nil, 0o600)
	defer os.Remove(filepath.Join(f.Path(), "tmp", "intmp"))
	// The same key in new/ and cur/ (caught mid-move by a linking MDA)
	// counts once, as in cur/.
	dup := filepath.Join(f.Path(), "new", e2.Key)
	os.WriteFile(dup, []byte("22"), 0o600)
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("Scan = %+v, want 2 entries", entries)
	}
	want := []Entry{e1, e2}
	slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	for i, e := range entries {
		w := want[i]
		if e.Key != w.Key || e.Name != w.Name || e.Dir != w.Dir || e.Flags != w.Flags || e.Size != w.Size || !e.ModTime.Equal(w.ModTime) {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	os.Remove(dup)
	os.Remove(filepath.Join(f.Path(), "cur", "alink:2,S"))
}

// TestScanWhileRenaming has another "program" change flags by renaming
// files in cur/ and moving files from new/ to cur/ as fast as it can,
// while scans must always list every key exactly once.
func TestScanWhileRenaming(t *testing.T) {
	_, f := newFolder(t, "Busy")
	const n = 300
	names := make(map[string]string) // key -> path, owned by the renamer
	var keys []string
	for i := range n {
		flags := model.Flags(0)
		if i%2 == 0 {
			flags = model.FlagSeen
		}
		e, err := f.Deliver([]byte(strconv.Itoa(i)), flags, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		names[e.Key] = f.EntryPath(e)
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var renames int
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt() // also when a check fails
	wg.Add(1)
	go func() {
		defer wg.Done()
		infos := []string{"", "S", "RS", "FS", "Sa", "FRSab", "T"}
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			key := keys[r.IntN(n)]
			to := filepath.Join(f.Path(), "cur", key+":2,"+infos[r.IntN(len(infos))])
			if to == names[key] {
				continue
			}
			if err := os.Rename(names[key], to); err != nil {
				t.Error(err)
				return
			}
			names[key] = to
			renames++
		}
	}()

	deadline := time.Now().Add(1500 * time.Millisecond)
	scans := 0
	for time.Now().Before(deadline) || scans < 20 {
		entries, err := f.Scan()
		if err != nil {
			t.Fatal(err)
		}
		scans++
		if len(entries) != n {
			t.Fatalf("scan %d: %d entries, want %d", scans, len(entries), n)
		}
		for i, e := range entries {
			if e.Key != keys[i] {
				t.Fatalf("scan %d: entry %d is %q, want %q", scans, i, e.Key, keys[i])
			}
		}
		// Lookups and reads through the key work under the renames too.
		k := keys[scans%n]
		if _, err := f.Lookup(k); err != nil {
			t.Fatalf("Lookup during renames: %v", err)
		}
		if _, _, err := f.ReadFile(k); err != nil {
			t.Fatalf("ReadFile during renames: %v", err)
		}
	}
	halt()
	t.Logf("%d scans during %d foreign renames", scans, renames)
}

// TestSetFlagsRacingForeignRenames changes flags through SetFlags while
// another program renames the same files.
func TestSetFlagsRacingForeignRenames(t *testing.T) {
	_, f := newFolder(t, "Race")
	const n = 20
	var keys []string
	for i := range n {
		e, err := f.Deliver([]byte(strconv.Itoa(i)), model.FlagSeen, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, e.Key)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }() // also when a check fails
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			key := keys[r.IntN(n)]
			ents, _ := os.ReadDir(filepath.Join(f.Path(), "cur"))
			for _, de := range ents {
				if k, _, _ := ParseName(de.Name()); k == key {
					// Ignore failures: SetFlags may have renamed it first.
					os.Rename(filepath.Join(f.Path(), "cur", de.Name()), filepath.Join(f.Path(), "cur", key+":2,Sx"))
				}
			}
		}
	}()
	for i := range 2000 {
		key := keys[i%n]
		flags := model.Flags(i % 64)
		e, err := f.SetFlags(key, flags)
		if err != nil {
			t.Fatalf("SetFlags: %v", err)
		}
		if e.Flags != flags {
			t.Fatalf("SetFlags(%v) = %+v", flags, e)
		}
	}
	entries, err := f.Scan()
	if err != nil || len(entries) != n {
		t.Fatalf("Scan = %d entries, %v", len(entries), err)
	}
}

func TestConcurrentDeliver(t *testing.T) {
	_, f := newFolder(t, "Many")
	const workers, each = 8, 500
	var wg sync.WaitGroup
	keys := make([][]string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				flags := model.Flags(0)
				if i%3 == 0 {
					flags = model.FlagSeen
				}
				e, err := f.Deliver(fmt.Appendf(nil, "%d/%d", w, i), flags, time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				keys[w] = append(keys[w], e.Key)
			}
		}()
	}
	wg.Wait()
	if err := f.SyncDirs(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, ks := range keys {
		for _, k := range ks {
			if seen[k] {
				t.Fatalf("key %s delivered twice", k)
			}
			seen[k] = true
		}
	}
	checkBodies(t, f, workers*each, "")
}

// checkBodies checks that f holds exactly n messages with distinct
// bodies (so none was overwritten), all starting with prefix.
func checkBodies(t *testing.T, f *Folder, n int, prefix string) {
	t.Helper()
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%d messages, want %d", len(entries), n)
	}
	bodies := make(map[string]bool)
	for _, e := range entries {
		b, _, err := f.ReadFile(e.Key)
		if err != nil {
			t.Fatal(err)
		}
		if bodies[string(b)] || !strings.HasPrefix(string(b), prefix) {
			t.Fatalf("body %q repeated or unexpected", b)
		}
		bodies[string(b)] = true
	}
}

// TestHelperDeliverProcess is run by TestMultiProcessDeliver in child
// processes; on its own it does nothing.
func TestHelperDeliverProcess(t *testing.T) {
	dir := os.Getenv("MAILDIR_TEST_DELIVER_DIR")
	if dir == "" {
		t.Skip("helper process")
	}
	md, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := md.Folder(model.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	count, _ := strconv.Atoi(os.Getenv("MAILDIR_TEST_DELIVER_COUNT"))
	id := os.Getenv("MAILDIR_TEST_DELIVER_ID")
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range count {
				if _, err := f.Deliver(fmt.Appendf(nil, "proc %s/%d/%d", id, g, i), 0, time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := f.SyncDirs(); err != nil {
		t.Fatal(err)
	}
}

func TestMultiProcessDeliver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	md, f := newFolder(t, model.Inbox)
	const procs, count = 4, 250
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeliverProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(),
				"MAILDIR_TEST_DELIVER_DIR="+md.Root(),
				"MAILDIR_TEST_DELIVER_COUNT="+strconv.Itoa(count),
				"MAILDIR_TEST_DELIVER_ID="+strconv.Itoa(p))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("process %d: %v\n%s", p, err, out)
			}
		}()
	}
	wg.Wait()
	checkBodies(t, f, procs*2*count, "proc ")
}

func TestCleanTmp(t *testing.T) {
	_, f := newFolder(t, "Tmp")
	tmp := filepath.Join(f.Path(), "tmp")
	old := filepath.Join(tmp, "old")
	fresh := filepath.Join(tmp, "fresh")
	os.WriteFile(old, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	os.Mkdir(filepath.Join(tmp, "adir"), 0o700)
	// A delivery in progress sets an old mtime: its recent ctime
	// protects it.
	ancient := time.Now().Add(-400 * 24 * time.Hour)
	os.Chtimes(fresh, ancient, ancient)
	if err := f.CleanTmp(36 * time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, fresh} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CleanTmp(36h) removed %s: %v", p, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	os.WriteFile(fresh, []byte("y"), 0o600)
	if err := f.CleanTmp(25 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old tmp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh tmp file removed: %v", err)
	}
	os.Remove(fresh)
	os.Remove(filepath.Join(tmp, "adir"))
	if _, err := os.Stat(filepath.Join(f.Path(), "tmp")); err != nil {
		t.Fatal(err)
	}
}

// TestEncodeLoc: the cache's short forms of a file's place decode to
// the place, and any other name round-trips too.
func TestEncodeLoc(t *testing.T) {
	key := "1733572882.M1P2.host"
	for _, c := range []struct {
		l    loc
		want string
	}{
		{loc{"new", key}, "n"},
		{loc{"cur", key + ":2,S"}, "cS"},
		{loc{"cur", key + ":2,"}, "c"},
		{loc{"cur", key + ":2,FSab"}, "cFSab"},
		{loc{"new", key + ":2,S"}, "/new/" + key + ":2,S"},
		{loc{"cur", key}, "/cur/" + key},
		{loc{"cur", key + "x:2,S"}, "/cur/" + key + "x:2,S"},
	} {
		got := encodeLoc(key, c.l)
		if got != c.want || decodeLoc(key, got) != c.l {
			t.Errorf("%+v: %q (decoded %+v), want %q", c.l, got, decodeLoc(key, got), c.want)
		}
	}
}
