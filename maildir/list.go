package maildir

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailsync/mailsync/internal/nameset"
	"github.com/mailsync/mailsync/model"
)

// dirent is what a directory listing tells of a name: its file type
// (direntRegular, direntUnknown, ...) and inode number (0: unknown).
type dirent struct {
	typ uint8
	ino uint64
}

// indexEntry is where List saw a message: Folder's lookup index.
type indexEntry struct{ key, dir, name string }

// indexed finds key in the index of the last List. Called with f.mu held.
func (f *Folder) indexed(key string) (loc, bool) {
	i, ok := slices.BinarySearchFunc(f.index, key, func(e indexEntry, k string) int { return strings.Compare(e.key, k) })
	if !ok {
		return loc{}, false
	}
	return loc{f.index[i].dir, f.index[i].name}, true
}

// List is Scan without a stat per file: it reads new/ and cur/ once each
// and takes everything from the file names, as the sync engine needs. It
// returns every message in new/ and cur/, sorted by Key, each key once (a
// key in both counts as in cur/; a key twice in one directory as its
// first name), skipping dotfiles and anything the directory listing says
// is not a regular file (a file system that does not say costs an lstat
// per file). Size is the value of the name's ",S=" field (the size as
// stored, as Dovecot and others write it) or -1 when the name has none;
// ModTime is zero: Lookup or ReadFile give both. Ino is the inode
// number the directory gives (0 where unknown): a file replaced by a
// rename over its name has another. When a directory could
// not be read as a snapshot and the directory mtimes changed meanwhile,
// it reads again (up to maxRetries times). List fails when new/ or cur/
// cannot be read (a missing folder gives errors.Is(err, fs.ErrNotExist)).
//
// Afterwards Lookup, ReadFile, SetFlags and Remove find the listed files
// without reading the directories again.
func (f *Folder) List() ([]Entry, error) {
	for attempt := 0; ; attempt++ {
		before := f.dirMtimes()
		ents, atomicNew, atomicCur, vanished, err := f.listTyped()
		if err != nil {
			return nil, err
		}
		if (vanished || !(atomicNew && atomicCur) && f.dirMtimes() != before) && attempt < maxRetries {
			continue
		}
		if vanished {
			return nil, f.errorf("list: files keep being renamed by another program; try again")
		}
		f.setIndex(ents, [2]nameset.Set{})
		return ents, nil
	}
}

// setIndex makes ents (sorted by key) the lookup index, and others the
// files listed but left out of it (see Unchanged).
func (f *Folder) setIndex(ents []Entry, others [2]nameset.Set) {
	idx := make([]indexEntry, len(ents))
	for i, e := range ents {
		idx[i] = indexEntry{e.Key, e.Dir, e.Name}
	}
	f.mu.Lock()
	f.cache = make(map[string]string)
	f.index = idx
	f.others = others
	f.surprised = false
	f.partial = false
	if f.watch != nil {
		f.watch.listed = true
	}
	f.mu.Unlock()
}

// FindFile returns the file of message key where a Maildir writer puts
// a message of these flags and keyword letters: cur/<key>:2,<letters in
// ASCII order>, or new/<key> when there are none (as Deliver and
// SetFlags name it). It makes one lstat per name it tries and reads no
// directory; false when no such file is there (it may have another
// name). The entry is as List gives it: Size from the name's ",S=" or
// -1, no ModTime, and the inode number.
func (f *Folder) FindFile(key string, flags model.Flags, keywordLetters string) (Entry, bool) {
	if !validKey(key) {
		return Entry{}, false
	}
	info := sortedUnique([]byte(flags.Letters() + keywordLetters))
	tries := []loc{{"cur", key + infoSep + info}, {"new", key + infoSep + info}}
	if info == "" {
		tries = []loc{{"new", key}, {"cur", key + infoSep}}
	}
	for _, l := range tries {
		if e, ok := f.stat(key, l); ok {
			e.Size, e.ModTime = sizeField(key), time.Time{}
			return e, true
		}
	}
	return Entry{}, false
}

// SetKnown is for a caller that knows what the folder holds without
// listing it (the sync engine's record of how its last run left the
// folder, whose directories kept their mtimes since): ents, found by
// FindFile, are the files it works on, which Lookup, SetFlags and
// Remove find without reading the directories. The folder must be
// watched (Watch) since before the caller read the mtimes: Unchanged
// then answers from the watch alone, and is false when the watch saw
// another program's change (there is no listing to compare with).
func (f *Folder) SetKnown(ents []Entry) {
	ents = slices.Clone(ents)
	slices.SortFunc(ents, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	f.setIndex(ents, [2]nameset.Set{})
	f.mu.Lock()
	f.partial = true
	f.mu.Unlock()
}

// ForgetLocations forgets where the files delivered, renamed or looked
// up since the last List are, keeping what that List found: for a caller
// that will not look them up again (the sync engine's first sync of a
// folder, slice after slice), so that the Folder does not hold a name
// per message it delivered (at 60,000 messages, 9 MB of the sync's
// heap). A later Lookup of a forgotten key still finds its file, by
// reading the directories. Like SetKnown, it leaves Unchanged the watch
// alone to answer from: it is false when the folder is not watched.
func (f *Folder) ForgetLocations() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cache) == 0 {
		return
	}
	f.cache = make(map[string]string)
	f.partial = true
}

// FileView is a message file as ListSome reads it, before any string is
// made of it. Its byte slices are valid only during the call to keep.
type FileView struct {
	Dir             string // "new" or "cur"
	Name, Key, Info []byte // as ParseName splits Name
	Flags           model.Flags
	Ino             uint64 // from the directory listing (0: unknown)
	ds              **dirStatter
	path            string
}

// Stat returns the file's size and mtime (Unix nanoseconds), with one
// fstatat relative to its directory; ok is false when the file is gone
// or cannot be stat'ed.
func (v *FileView) Stat() (size, mtime int64, ok bool) {
	if *v.ds == nil {
		ds, err := openDirStatter(v.path)
		if err != nil {
			return 0, 0, false
		}
		*v.ds = ds
	}
	size, mt, _, ok := statIn(*v.ds, v.Name)
	if !ok {
		return 0, 0, false
	}
	return size, mt.UnixNano(), true
}

// ListSome is List for a caller that needs Go values of some of the
// folder's messages only: it reads new/ and cur/ once each and calls
// keep with each message file, making no string of it unless keep
// returns true. It returns the kept files' entries as List gives them
// (sorted by Key; among kept files of one key, List's choice). When a
// directory changed while it was read, ListSome reads both again,
// calling start first (as it does before the first read): keep's
// caller starts over there. Afterwards Lookup, ReadFile, SetFlags and
// Remove find the kept files without reading the directories again, and
// Unchanged compares with every file found (the others by name only).
// The sync engine uses it to plan only what changed since its last run
// (quick passes).
func (f *Folder) ListSome(start func(), keep func(v *FileView) bool) (ents []Entry, err error) {
	for attempt := 0; ; attempt++ {
		before := f.dirMtimes()
		var others [2]nameset.Set
		ents = ents[:0]
		vanished := false
		var atomic [2]bool
		start()
		for i, dir := range [...]string{"new", "cur"} {
			var gone bool
			var ds *dirStatter
			v := FileView{Dir: dir, ds: &ds, path: filepath.Join(f.path, dir)}
			atomic[i], gone, err = f.scanMessages(dir, nil, func(name []byte, ino uint64) {
				v.Name, v.Key, v.Info, v.Ino = name, name, nil, ino
				if j := bytes.Index(name, []byte(infoSep)); j >= 0 {
					v.Key, v.Info = name[:j], name[j+len(infoSep):]
				}
				v.Flags = model.FlagsFromLetters(v.Info)
				if !keep(&v) {
					others[i].AddBytes(name)
					return
				}
				n := string(name)
				k, info, flags := ParseName(n)
				ents = append(ents, Entry{Key: k, Name: n, Dir: dir, Flags: flags, Info: info, Size: sizeField(k), Ino: ino})
			})
			if ds != nil {
				ds.Close()
			}
			if err != nil {
				return nil, err
			}
			vanished = vanished || gone
		}
		if (vanished || !(atomic[0] && atomic[1]) && f.dirMtimes() != before) && attempt < maxRetries {
			continue
		}
		if vanished {
			return nil, f.errorf("list: files keep being renamed by another program; try again")
		}
		// List's choice among files of one key: cur/ first, then the
		// first name. A file not chosen is in neither index nor others,
		// as List leaves it out of its index (Unchanged is then false).
		slices.SortFunc(ents, func(a, b Entry) int {
			if c := strings.Compare(a.Key, b.Key); c != 0 {
				return c
			}
			if a.Dir != b.Dir {
				if a.Dir == "cur" {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		ents = slices.CompactFunc(ents, func(a, b Entry) bool { return a.Key == b.Key })
		f.setIndex(ents, others)
		return ents, nil
	}
}

// listTyped reads new/ then cur/ once (see List). vanished reports a
// file whose type had to be asked of lstat and that was gone meanwhile.
func (f *Folder) listTyped() (ents []Entry, atomicNew, atomicCur, vanished bool, err error) {
	var atomic [2]bool
	for i, dir := range [...]string{"new", "cur"} {
		var gone bool
		// Room for every name at once: growing by appends would copy
		// and fault in twice the memory (a folder of 20,000 messages
		// lists 2 MiB of entries).
		grow := func(n int) { ents = slices.Grow(ents, n) }
		atomic[i], gone, err = f.scanMessages(dir, grow, func(name []byte, ino uint64) {
			n := string(name)
			key, info, flags := ParseName(n)
			ents = append(ents, Entry{Key: key, Name: n, Dir: dir, Flags: flags, Info: info, Size: sizeField(key), Ino: ino})
		})
		if err != nil {
			return nil, false, false, false, err
		}
		vanished = vanished || gone
	}
	// Sort by key, cur/ before new/ and then by name, and keep the
	// first of each key. The entries are large to move: an order of
	// small items is sorted, and the entries are then put in that
	// order in place.
	type item struct {
		key, name string
		i         int32
		dir       uint8 // 0 cur, 1 new
	}
	order := make([]item, len(ents))
	for i, e := range ents {
		order[i] = item{e.Key, e.Name, int32(i), 0}
		if e.Dir == "new" {
			order[i].dir = 1
		}
	}
	slices.SortFunc(order, func(a, b item) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		if a.dir != b.dir {
			return int(a.dir) - int(b.dir)
		}
		return strings.Compare(a.name, b.name)
	})
	perm := make([]int32, len(order)) // perm[j]: the entry that goes to position j
	for j, it := range order {
		perm[j] = it.i
	}
	permute(ents, perm)
	out := ents[:0]
	for j := range ents {
		if j > 0 && ents[j].Key == ents[j-1].Key {
			continue
		}
		out = append(out, ents[j])
	}
	clear(ents[len(out):])
	return out, atomic[0], atomic[1], vanished, nil
}

// permute puts s in the order perm gives (s[j] becomes the old
// s[perm[j]]) in place, following each cycle; perm is used up.
func permute[T any](s []T, perm []int32) {
	for start := range s {
		if perm[start] < 0 {
			continue
		}
		tmp := s[start]
		j := start
		for {
			k := int(perm[j])
			perm[j] = -1
			if k == start {
				s[j] = tmp
				break
			}
			s[j] = s[k]
			j = k
		}
	}
}

// StatEntries fills in the size, mtime and inode number of the entries
// (from List, which reads names only) that have no mtime yet and for
// whose key want is true: one fstatat each, relative to the directory,
// nothing allocated per file. A file renamed since it was listed is
// looked up (Lookup); one gone is left as listed.
func (f *Folder) StatEntries(ents []Entry, want func(key string) bool) error {
	var dirs [2]*dirStatter
	for i, d := range [...]string{"new", "cur"} {
		ds, err := openDirStatter(filepath.Join(f.path, d))
		if err != nil {
			return f.errorf("stat: %w", err)
		}
		defer ds.Close()
		dirs[i] = ds
	}
	for i := range ents {
		e := &ents[i]
		if !e.ModTime.IsZero() || !want(e.Key) {
			continue
		}
		ds := dirs[1]
		if e.Dir == "new" {
			ds = dirs[0]
		}
		if size, mtime, ino, ok := ds.stat(e.Name); ok {
			e.Size, e.ModTime, e.Ino = size, mtime, ino
			continue
		}
		if found, err := f.Lookup(e.Key); err == nil {
			e.Size, e.ModTime, e.Ino = found.Size, found.ModTime, found.Ino
		}
	}
	return nil
}

// sizeField returns the value of the ",S=<size>" field of a key, or -1.
func sizeField(key string) int64 {
	for rest := key; ; {
		i := strings.Index(rest, ",S=")
		if i < 0 {
			return -1
		}
		rest = rest[i+3:]
		end := strings.IndexByte(rest, ',')
		if end < 0 {
			end = len(rest)
		}
		if n, err := strconv.ParseInt(rest[:end], 10, 64); err == nil && n >= 0 {
			return n
		}
	}
}

// surprise records that the folder was changed behind our back.
func (f *Folder) surprise() {
	f.mu.Lock()
	f.surprised = true
	f.mu.Unlock()
}

// Unchanged reports whether new/ and cur/ hold exactly the files the
// last List found, changed only by this Folder's own Deliver, SetFlags
// and Remove since: same keys, same names (flags and keywords), same
// directories. It reads the directories again (no stat per file),
// unless the folder was watched (Watch) since before the listing and
// every change seen since is one of this Folder's own. It is false when
// no List was made, or when a lookup since found a file moved, gone or
// new (another program's doing). It ends the watch. The sync engine uses
// it to learn that nobody changed a folder while it synced it.
func (f *Folder) Unchanged() (bool, error) {
	w := f.takeWatch()
	if w != nil {
		defer w.close()
	}
	f.mu.Lock()
	if f.index == nil || f.surprised {
		f.mu.Unlock()
		return false, nil
	}
	if w != nil && w.listed {
		// Watched since before the listing: when every change the
		// kernel saw is one of ours, the directories hold what the
		// listing found plus those changes.
		f.mu.Unlock()
		if w.drain(f.path) {
			return true, nil
		}
		f.mu.Lock()
	}
	if f.partial {
		f.mu.Unlock()
		return false, nil // SetKnown: nothing to compare a reading with
	}
	unchangedReads.Add(1)
	// What the directories should hold, as sets of names: counted and
	// summed by two keyed hashes, so that the sets compare in any
	// order, with no string built or sorted per file (a folder of tens
	// of thousands of messages is read here after every sync that
	// changed it). Two different sets compare equal only if both 64-bit
	// sums collide: the hash keys are random per process.
	wantNew, wantCur := f.others[0], f.others[1]
	add := func(dir, name string) {
		if dir == "new" {
			wantNew.Add(name)
		} else {
			wantCur.Add(name)
		}
	}
	for _, e := range f.index {
		rel, ok := f.cache[e.key]
		if !ok {
			add(e.dir, e.name)
			continue
		}
		if rel != "" {
			l := decodeLoc(e.key, rel)
			add(l.dir, l.name)
		}
	}
	for key, rel := range f.cache {
		if _, indexed := f.indexed(key); !indexed && rel != "" {
			l := decodeLoc(key, rel)
			add(l.dir, l.name)
		}
	}
	f.mu.Unlock()
	for attempt := 0; ; attempt++ {
		before := f.dirMtimes()
		gotNew, atomicNew, vanishedNew, err := f.messageSet("new")
		if err != nil {
			return false, err
		}
		gotCur, atomicCur, vanishedCur, err := f.messageSet("cur")
		if err != nil {
			return false, err
		}
		vanished := vanishedNew || vanishedCur
		if (vanished || !(atomicNew && atomicCur) && f.dirMtimes() != before) && attempt < maxRetries {
			continue
		}
		return !vanished && gotNew == wantNew && gotCur == wantCur, nil
	}
}

// unchangedReads counts the times Unchanged read the directories (for
// tests).
var unchangedReads atomic.Int64

// messageSet reads the names of the message files in dir ("new" or
// "cur") as listTyped takes them (no dotfiles, regular files only) into
// a nameset.Set. vanished reports a file whose type had to be asked of lstat
// and that was gone meanwhile.
func (f *Folder) messageSet(dir string) (set nameset.Set, atomic, vanished bool, err error) {
	atomic, vanished, err = f.scanMessages(dir, nil, func(name []byte, _ uint64) { set.AddBytes(name) })
	if err != nil {
		return nameset.Set{}, false, false, err
	}
	return set, atomic, vanished, nil
}

// scanMessages calls fn with the name and inode number of each message
// file in dir ("new" or "cur"), as List takes them: no dotfiles, regular
// files only (asked of lstat where the listing does not tell). name is
// valid only during the call. vanished reports a file that had to be
// asked of lstat and was gone meanwhile; atomic and hint are scanDir's.
func (f *Folder) scanMessages(dir string, hint func(n int), fn func(name []byte, ino uint64)) (atomic, vanished bool, err error) {
	var lerr error
	atomic, err = scanDir(filepath.Join(f.path, dir), hint, func(name []byte, d dirent) {
		if len(name) == 0 || name[0] == '.' || lerr != nil {
			return
		}
		ino, keep, gone, err := messageFile(f, dir, name, d)
		vanished = vanished || gone
		if err != nil {
			lerr = err
		} else if keep {
			fn(name, ino)
		}
	})
	if err != nil {
		return false, false, f.errorf("list %s: %w", dir, err)
	}
	if lerr != nil {
		return false, false, lerr
	}
	return atomic, vanished, nil
}

// messageFile says whether the (non-dot) name in dir that the directory
// listing describes as d is a message file: a regular file, asked of
// lstat when the listing does not tell the type (gone meanwhile:
// vanished). ino is its inode number.
func messageFile[N string | []byte](f *Folder, dir string, name N, d dirent) (ino uint64, keep, vanished bool, err error) {
	switch d.typ {
	case direntRegular:
		return d.ino, true, false, nil
	case direntUnknown:
		fi, err := os.Lstat(filepath.Join(f.path, dir, string(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false, true, nil
		}
		if err != nil {
			return 0, false, false, f.errorf("list: %w", err)
		}
		return inode(fi), fi.Mode().IsRegular(), false, nil
	}
	return 0, false, false, nil
}
