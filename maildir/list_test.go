package maildir

import (
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/nameset"
	"github.com/mailsync/mailsync/model"
)

// TestListMatchesScan: List finds exactly what Scan finds (keys, names,
// directories, flags, info), without a stat per file: the size comes
// from ",S=" or is -1, and the mtime is not read. Lookup afterwards
// finds the listed files, follows renames and forgets removals.
func TestListMatchesScan(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	write := func(rel string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(f.Path(), rel), []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("new/1.M1P1.host")
	write("new/2.M2P1.host,S=123")
	write("cur/3.M3P1.host,S=17,W=18:2,FS")
	write("cur/4.M4P1.host:2,Sab")
	write("new/5.M5P1.host")
	write("cur/5.M5P1.host:2,R") // the key in both: cur/ wins
	write("cur/6.M6P1.host:2,S")
	write("cur/6.M6P1.host:2,F") // twice in one directory: the first name
	write("cur/.hidden:2,S")
	if err := os.Mkdir(filepath.Join(f.Path(), "cur", "7.dir:2,S"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(f.Path(), "cur", "8.link:2,S")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // not messages: keep the invariant check quiet
		os.Remove(filepath.Join(f.Path(), "cur", "7.dir:2,S"))
		os.Remove(filepath.Join(f.Path(), "cur", "8.link:2,S"))
		os.Remove(filepath.Join(f.Path(), "cur", "6.M6P1.host:2,S"))
		os.Remove(filepath.Join(f.Path(), "new", "5.M5P1.host"))
	})
	scanned, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	listed, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	strip := func(es []Entry) []Entry {
		out := make([]Entry, len(es))
		for i, e := range es {
			out[i] = Entry{Key: e.Key, Name: e.Name, Dir: e.Dir, Flags: e.Flags, Info: e.Info}
		}
		return out
	}
	if !reflect.DeepEqual(strip(listed), strip(scanned)) {
		t.Fatalf("List\n%+v\nScan\n%+v", listed, scanned)
	}
	if len(listed) != 6 {
		t.Fatalf("%d entries: %+v", len(listed), listed)
	}
	sizes := map[string]int64{}
	for _, e := range listed {
		sizes[e.Key] = e.Size
		if !e.ModTime.IsZero() {
			t.Errorf("%s: mtime read", e.Key)
		}
	}
	if want := map[string]int64{"1.M1P1.host": -1, "2.M2P1.host,S=123": 123, "3.M3P1.host,S=17,W=18": 17, "4.M4P1.host": -1, "5.M5P1.host": -1, "6.M6P1.host": -1}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("sizes %v, want %v", sizes, want)
	}

	// Lookups through the index: a rename by another program is
	// followed, a removal is seen.
	en, err := f.Lookup("4.M4P1.host")
	if err != nil || en.Name != "4.M4P1.host:2,Sab" || en.Size == 0 {
		t.Fatalf("lookup %+v %v", en, err)
	}
	if err := os.Rename(filepath.Join(f.Path(), "cur", "4.M4P1.host:2,Sab"), filepath.Join(f.Path(), "cur", "4.M4P1.host:2,FSab")); err != nil {
		t.Fatal(err)
	}
	if en, err := f.Lookup("4.M4P1.host"); err != nil || en.Flags != model.FlagFlagged|model.FlagSeen {
		t.Fatalf("after rename: %+v %v", en, err)
	}
	if err := f.Remove("3.M3P1.host,S=17,W=18"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lookup("3.M3P1.host,S=17,W=18"); err == nil {
		t.Fatalf("removed message still found")
	}
	if en, err := f.SetFlags("1.M1P1.host", model.FlagSeen); err != nil || en.Dir != "cur" {
		t.Fatalf("set flags %+v %v", en, err)
	}
}

// deliverFour delivers four messages to f, every other one \Seen, and
// returns their keys.
func deliverFour(t *testing.T, f *Folder) []string {
	t.Helper()
	var keys []string
	for i := 0; i < 4; i++ {
		en, err := f.DeliverSync([]byte("Subject: x\n\nbody\n"), model.Flags(i)&model.FlagSeen, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, en.Key)
	}
	return keys
}

// TestUnchanged: after List, the folder's own deliveries, flag changes
// and removals leave it Unchanged; another program's rename, delivery or
// removal does not, even when a lookup has followed the rename.
func TestUnchanged(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	keys := deliverFour(t, f)
	if ok, err := f.Unchanged(); ok || err != nil {
		t.Fatalf("before any List: %v %v", ok, err)
	}
	reset := func() {
		t.Helper()
		if _, err := f.List(); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(step string, want bool) {
		t.Helper()
		if ok, err := f.Unchanged(); ok != want || err != nil {
			t.Fatalf("%s: Unchanged = %v, %v; want %v", step, ok, err, want)
		}
	}
	reset()
	expect("nothing done", true)
	if _, err := f.SetFlags(keys[0], model.FlagFlagged); err != nil {
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
	expect("own changes", true)

	// Another program renames a file (a flag change).
	other, _ := f.Lookup(keys[2])
	if err := os.Rename(f.EntryPath(other), filepath.Join(f.Path(), "cur", keys[2]+":2,FS")); err != nil {
		t.Fatal(err)
	}
	expect("foreign rename", false)
	// A lookup follows the rename: still a change nobody planned.
	if _, err := f.Lookup(keys[2]); err != nil {
		t.Fatal(err)
	}
	expect("foreign rename, looked up", false)

	reset()
	expect("listed again", true)
	if err := os.WriteFile(filepath.Join(f.Path(), "new", "999.M1P1.other"), []byte("Subject: z\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("foreign delivery", false)
	reset()
	if err := os.Remove(f.EntryPath(other)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	cur, _ := f.Lookup(keys[3])
	if err := os.Remove(f.EntryPath(cur)); err != nil {
		t.Fatal(err)
	}
	expect("foreign removal", false)
}

// TestListGivesInodes: List gives each file's inode number from the
// directory listing (no stat), the one Deliver and Lookup give; a flag
// change (a rename) keeps it, and a file replaced by a rename over its
// name (a draft saved again) gets another.
func TestListGivesInodes(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	en, err := f.Deliver([]byte("Subject: a\n\nbody\n"), model.FlagSeen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	listIno := func() uint64 {
		t.Helper()
		ents, err := f.List()
		if err != nil || len(ents) != 1 {
			t.Fatalf("List: %v, %v", ents, err)
		}
		return ents[0].Ino
	}
	if en.Ino == 0 || listIno() != en.Ino {
		t.Fatalf("Deliver gives inode %d, List %d", en.Ino, listIno())
	}
	if got, err := f.Lookup(en.Key); err != nil || got.Ino != en.Ino {
		t.Fatalf("Lookup gives inode %d, %v; want %d", got.Ino, err, en.Ino)
	}
	moved, err := f.SetFlags(en.Key, model.FlagSeen|model.FlagFlagged)
	if err != nil || listIno() != en.Ino {
		t.Fatalf("after a flag change: inode %d, %v; want %d", listIno(), err, en.Ino)
	}
	tmp := filepath.Join(f.Path(), "tmp", "draft")
	if err := os.WriteFile(tmp, []byte("Subject: a\n\nbody, edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.Path(), moved.Dir, moved.Name)); err != nil {
		t.Fatal(err)
	}
	if got := listIno(); got == en.Ino || got == 0 {
		t.Fatalf("a file replaced by a rename keeps inode %d", got)
	}
}

// listKeys is ListSome keeping the files of keys, with the set of the
// keys of every file.
func listKeys(f *Folder, keys []string) (ents []Entry, all nameset.Set, err error) {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	ents, err = f.ListSome(func() { all = nameset.Set{} }, func(v *FileView) bool {
		all.AddBytes(v.Key)
		return want[string(v.Key)]
	})
	return ents, all, err
}

// TestListKeys: ListSome gives the entries of the files kept exactly as
// List gives them; Unchanged afterwards holds through the Folder's own
// changes to listed and new messages and sees another program's change
// to any file, listed or not.
func TestListKeys(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	var keys []string
	for i := 0; i < 6; i++ {
		en, err := f.DeliverSync([]byte("Subject: x\n\nbody\n"), model.Flags(i%2)*model.FlagSeen, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, en.Key)
	}
	// A file of another program, with a size field and keyword letters.
	if err := os.WriteFile(filepath.Join(f.Path(), "cur", "1700000000.M1P1.other,S=12:2,Sab"), []byte("Subject: o\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, "1700000000.M1P1.other,S=12")
	listed, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	var wantAll nameset.Set
	for _, e := range listed {
		wantAll.Add(e.Key)
	}
	some := []string{keys[6], keys[1], keys[4], "1699999999.M9P9.gone"}
	got, all, err := listKeys(f, some)
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for _, e := range listed {
		if e.Key == keys[1] || e.Key == keys[4] || e.Key == keys[6] {
			want = append(want, e)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSome gives\n%+v\nList gives\n%+v", got, want)
	}
	if all != wantAll {
		t.Fatalf("the set of all keys differs from List's (%d against %d)", all.Len(), wantAll.Len())
	}
	expect := func(step string, want bool) {
		t.Helper()
		if ok, err := f.Unchanged(); ok != want || err != nil {
			t.Fatalf("%s: Unchanged = %v, %v; want %v", step, ok, err, want)
		}
	}
	expect("nothing done", true)
	if _, err := f.SetFlags(keys[1], model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(keys[4]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeliverSync([]byte("Subject: y\n\nbody\n"), model.FlagSeen, time.Time{}); err != nil {
		t.Fatal(err)
	}
	expect("own changes", true)
	// Another program renames a file ListSome did not return.
	if err := os.Rename(filepath.Join(f.Path(), "new", keys[2]), filepath.Join(f.Path(), "cur", keys[2]+":2,S")); err != nil {
		t.Fatal(err)
	}
	expect("foreign rename of a file not asked for", false)
	if _, _, err := listKeys(f, nil); err != nil {
		t.Fatal(err)
	}
	expect("listed again", true)
	// A second file of a key counts twice in the set of all keys.
	if err := os.WriteFile(filepath.Join(f.Path(), "new", keys[6]), []byte("Subject: o\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, all, err = listKeys(f, []string{keys[6]})
	if err != nil || len(got) != 1 || got[0].Dir != "cur" {
		t.Fatalf("a key in new/ and cur/: %+v, %v (want the cur/ file once)", got, err)
	}
	if all.Len() != 8 {
		t.Fatalf("%d keys in the set, want 8 (one twice)", all.Len())
	}
	expect("a key with two files", false)
	if err := os.Remove(filepath.Join(f.Path(), "new", keys[6])); err != nil {
		t.Fatal(err)
	}
}

// TestStatEntries: StatEntries gives the listed files the size, mtime
// and inode Scan gives, only for the keys asked, follows a file renamed
// since the listing, and leaves one removed as listed.
func TestStatEntries(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	var keys []string
	for i := 0; i < 5; i++ {
		en, err := f.DeliverSync([]byte("Subject: x\n\nbody "+string(rune('a'+i))+"\n"), model.Flags(i%2)*model.FlagSeen, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, en.Key)
	}
	scanned, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	listed, err := f.List()
	if err != nil {
		t.Fatal(err)
	}
	// Another program renames one file and removes another.
	other, _ := f.Lookup(keys[1])
	if err := os.Rename(f.EntryPath(other), filepath.Join(f.Path(), "cur", keys[1]+":2,F")); err != nil {
		t.Fatal(err)
	}
	gone, _ := f.Lookup(keys[2])
	if err := os.Remove(f.EntryPath(gone)); err != nil {
		t.Fatal(err)
	}
	skip := keys[3]
	if err := f.StatEntries(listed, func(key string) bool { return key != skip }); err != nil {
		t.Fatal(err)
	}
	for i, e := range listed {
		s := scanned[i]
		switch e.Key {
		case skip, keys[2]:
			if !e.ModTime.IsZero() {
				t.Errorf("%s: stat'ed (%v), want it left as listed", e.Key, e.ModTime)
			}
		default:
			if e.Size != s.Size || !e.ModTime.Equal(s.ModTime) || e.Ino != s.Ino {
				t.Errorf("%s: size %d mtime %v ino %d; Scan gave %d %v %d", e.Key, e.Size, e.ModTime, e.Ino, s.Size, s.ModTime, s.Ino)
			}
		}
	}
}

func TestPermute(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n < 50; n++ {
		s := make([]int, n)
		for i := range s {
			s[i] = i * 10
		}
		perm32 := make([]int32, n)
		for i, p := range rng.Perm(n) {
			perm32[i] = int32(p)
		}
		want := make([]int, n)
		for j, k := range perm32 {
			want[j] = s[k]
		}
		permute(s, perm32)
		if !reflect.DeepEqual(s, want) && n > 0 {
			t.Fatalf("n=%d: %v, want %v", n, s, want)
		}
	}
}

// TestListSomeFileView: keep sees each message file split as ParseName
// splits its name, with the flags of its info and the inode the
// directory gives; Stat gives the file's size and mtime as os.Stat does.
func TestListSomeFileView(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	name := "1700000000.M1P1.other,S=12:2,FSab"
	path := filepath.Join(f.Path(), "cur", name)
	if err := os.WriteFile(path, []byte("Subject: o\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeliverSync([]byte("Subject: x\n\nbody\n"), 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	starts, seen := 0, 0
	ents, err := f.ListSome(func() { starts++ }, func(v *FileView) bool {
		seen++
		if string(v.Name) != name {
			return false
		}
		size, mtime, ok := v.Stat()
		if string(v.Key) != "1700000000.M1P1.other,S=12" || string(v.Info) != "FSab" || v.Dir != "cur" ||
			v.Flags != model.FlagFlagged|model.FlagSeen || v.Ino != inode(fi) || !ok || size != 12 || mtime != fi.ModTime().UnixNano() {
			t.Errorf("view of %s: key %q info %q dir %s flags %v ino %d (want %d); stat %d %d %v", name, v.Key, v.Info, v.Dir, v.Flags, v.Ino, inode(fi), size, mtime, ok)
		}
		return true
	})
	if err != nil || starts != 1 || seen != 2 || len(ents) != 1 || ents[0].Name != name {
		t.Fatalf("ListSome: %+v, %v; %d starts, %d files seen", ents, err, starts, seen)
	}
	if ok, err := f.Unchanged(); !ok || err != nil {
		t.Fatalf("Unchanged after ListSome: %v, %v", ok, err)
	}
}
