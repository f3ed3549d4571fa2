package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailsync/mailsync/internal/nameset"
	"github.com/mailsync/mailsync/model"
)

// maxRetries bounds how often an operation looks a message up again
// after its file was renamed away under it, and how often Scan rereads
// directories that changed while it read them.
const maxRetries = 64

// Folder is one Maildir folder: a directory with cur/, new/ and tmp/.
// Its methods may be called from several goroutines at once, and other
// programs may rename, add and remove its files at any time. A Folder
// remembers where it last saw each key, so that Lookup and the methods
// built on it are cheap after a Scan.
type Folder struct {
	name string
	path string

	mu    sync.Mutex
	cache map[string]string // key -> where its file is (encodeLoc); "" forgets an index entry
	index []indexEntry      // from the last List, sorted by key; cache overrides it
	// others are the names (in new/ and cur/) of the message files the
	// last ListSome found and left out of index (zero after List).
	others [2]nameset.Set
	// surprised: since the last List, a lookup found a file elsewhere
	// than index and cache said, or not at all (see Unchanged).
	surprised bool
	// partial: index and cache hold only some of the files (SetKnown,
	// ForgetLocations).
	partial bool
	// deferSync: SetFlags, SetInfo and Remove leave the directory fsync
	// to SyncDirs (DeferDirSync).
	deferSync bool
	// watch, between Watch and Unwatch (or Unchanged): the inotify
	// watch on new/ and cur/ and the events our own changes make
	// (watch_linux.go); nil when the folder cannot be watched.
	watch *watch
}

// Watch starts watching new/ and cur/ for changes, so that Unchanged
// can tell that nobody but this Folder changed them without reading
// them again (watch_linux.go). Where the folder cannot be watched
// (another system, a network file system, no inotify instance left)
// Unchanged reads them. Unchanged ends the watch, as Unwatch does.
func (f *Folder) Watch() {
	w := startWatch(f.path)
	f.mu.Lock()
	old := f.watch
	f.watch = w
	f.mu.Unlock()
	if old != nil {
		old.close()
	}
}

// Unwatch ends Watch's watch, if any.
func (f *Folder) Unwatch() {
	if w := f.takeWatch(); w != nil {
		w.close()
	}
}

func (f *Folder) takeWatch() *watch {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.watch
	f.watch = nil
	return w
}

// expect notes a change of our own in new/ or cur/ for the watch.
func (f *Folder) expect(dir string, in bool, name string) {
	f.mu.Lock()
	if f.watch != nil {
		f.watch.expect(dir, in, name)
	}
	f.mu.Unlock()
}

// DeferDirSync makes SetFlags, SetInfo and Remove skip their directory
// fsync: their renames and removals are durable only once SyncDirs
// returns. A caller that changes many messages and then records them
// (the sync engine) calls SyncDirs once before recording, rather than
// paying an fsync per message.
func (f *Folder) DeferDirSync() {
	f.mu.Lock()
	f.deferSync = true
	f.mu.Unlock()
}

// syncDirNow fsyncs dir unless DeferDirSync leaves it to SyncDirs.
func (f *Folder) syncDirNow(dir string) error {
	f.mu.Lock()
	deferred := f.deferSync
	f.mu.Unlock()
	if deferred {
		return nil
	}
	return syncDir(filepath.Join(f.path, dir))
}

// Name returns the canonical folder name ("INBOX", "A/B").
func (f *Folder) Name() string { return f.name }

// Path returns the folder's directory.
func (f *Folder) Path() string { return f.path }

// Exists reports whether the folder's cur/, new/ and tmp/ all exist.
func (f *Folder) Exists() bool { return hasSubdirs(f.path) }

// Entry is one message file of a folder, as last seen.
type Entry struct {
	Key     string      // unique base name: the file name up to ":2," (or the whole name if none)
	Name    string      // file name in its directory
	Dir     string      // "new" or "cur"
	Flags   model.Flags // standard flags from the info part
	Info    string      // everything after ":2,", as is (keeps keyword letters)
	Size    int64       // file size in bytes (LF line endings as stored)
	ModTime time.Time   // file mtime (Deliver sets it to the message date)
	Ino     uint64      // inode number (0: unknown)
}

// Path returns the file's path in folder f. The file may have been
// renamed since e was made: go through the key (Lookup, ReadFile) to be
// sure.
func (e Entry) Path(f *Folder) string { return f.EntryPath(e) }

// EntryPath returns the path of e's file in f (see Entry.Path).
func (f *Folder) EntryPath(e Entry) string { return filepath.Join(f.path, e.Dir, e.Name) }

func (f *Folder) errorf(format string, args ...any) error {
	return fmt.Errorf("maildir %s: "+format, append([]any{f.path}, args...)...)
}

func (f *Folder) notExist(key string) error {
	return f.errorf("message %s: %w", key, fs.ErrNotExist)
}

func (f *Folder) busy(key string) error {
	return f.errorf("message %s keeps being renamed by another program; try again", key)
}

func (f *Folder) cached(key string) (loc, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rel, ok := f.cache[key]
	if !ok {
		return f.indexed(key)
	}
	if rel == "" {
		return loc{}, false
	}
	return decodeLoc(key, rel), true
}

func (f *Folder) remember(key string, l loc) {
	rel := encodeLoc(key, l)
	f.mu.Lock()
	f.cache[key] = rel
	f.mu.Unlock()
}

// encodeLoc says where key's file is, for the cache, in as few bytes as
// the usual names allow: "n" for new/<key>, "c" and the info for
// cur/<key>:2,<info> (a message delivered or renamed here: the cache of
// a first sync holds one per message, and "cur/" and the whole name took
// 80 bytes), and otherwise "/", the directory, "/" and the name. Never
// "", which is a forgotten key.
func encodeLoc(key string, l loc) string {
	if rest, ok := strings.CutPrefix(l.name, key); ok {
		if rest == "" && l.dir == "new" {
			return "n"
		}
		if info, ok := strings.CutPrefix(rest, infoSep); ok && l.dir == "cur" {
			return "c" + info
		}
	}
	return "/" + l.dir + "/" + l.name
}

// decodeLoc is encodeLoc's inverse.
func decodeLoc(key, rel string) loc {
	switch {
	case rel == "n":
		return loc{"new", key}
	case strings.HasPrefix(rel, "c"):
		return loc{"cur", key + infoSep + rel[1:]}
	}
	dir, name, _ := strings.Cut(rel[1:], "/")
	return loc{dir, name}
}

func (f *Folder) forget(key string) {
	f.mu.Lock()
	if _, ok := f.indexed(key); ok {
		f.cache[key] = ""
	} else {
		delete(f.cache, key)
	}
	f.mu.Unlock()
}

// loc is where a message file is: its directory ("new" or "cur") and name.
type loc struct{ dir, name string }

func (f *Folder) dirMtimes() [2]time.Time {
	var t [2]time.Time
	for i, d := range [...]string{"new", "cur"} {
		if fi, err := os.Stat(filepath.Join(f.path, d)); err == nil {
			t[i] = fi.ModTime()
		}
	}
	return t
}

// list returns where every message of new/ and cur/ is, by key. new/ is
// read before cur/, so a file moved from new/ to cur/ meanwhile is seen
// at least once; a key in both counts as in cur/. Names starting with
// '.' are skipped. When a directory could not be read as a snapshot (see
// listDir) and the directory mtimes changed while reading, it reads
// again, up to maxRetries times.
func (f *Folder) list() (map[string]loc, error) {
	for attempt := 0; ; attempt++ {
		before := f.dirMtimes()
		newNames, atomicNew, err := listDir(filepath.Join(f.path, "new"))
		if err != nil {
			return nil, f.errorf("list new: %w", err)
		}
		curNames, atomicCur, err := listDir(filepath.Join(f.path, "cur"))
		if err != nil {
			return nil, f.errorf("list cur: %w", err)
		}
		if !(atomicNew && atomicCur) && attempt < maxRetries && f.dirMtimes() != before {
			continue
		}
		m := make(map[string]loc, len(newNames)+len(curNames))
		add := func(dir string, names []string) {
			for _, n := range names {
				if n == "" || n[0] == '.' {
					continue
				}
				key, _, _ := ParseName(n)
				if old, ok := m[key]; ok && old.dir == dir && old.name < n {
					continue // duplicate key in one directory: keep the first name
				}
				m[key] = loc{dir, n}
			}
		}
		add("new", newNames)
		add("cur", curNames)
		return m, nil
	}
}

func makeEntry(key string, l loc, fi os.FileInfo) Entry {
	_, info, flags := ParseName(l.name)
	return Entry{
		Key:     key,
		Name:    l.name,
		Dir:     l.dir,
		Flags:   flags,
		Info:    info,
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
		Ino:     inode(fi),
	}
}

// Scan returns every message in new/ and cur/, sorted by Key, each key
// once. It never reads tmp/ and skips dotfiles and anything that is not
// a regular file. Files renamed by other programs while Scan runs are
// found under their new names; a file that vanished is looked for again
// and left out only when its key is gone. Scan fails when new/ or cur/
// cannot be read (a missing folder gives errors.Is(err, fs.ErrNotExist)).
func (f *Folder) Scan() ([]Entry, error) {
	pending, err := f.list()
	if err != nil {
		return nil, err
	}
	found := make(map[string]Entry, len(pending))
	for round := 0; ; round++ {
		var vanished []string
		for key, l := range pending {
			fi, err := os.Lstat(filepath.Join(f.path, l.dir, l.name))
			if errors.Is(err, fs.ErrNotExist) {
				vanished = append(vanished, key)
				continue
			}
			if err != nil {
				return nil, f.errorf("scan: %w", err)
			}
			if fi.Mode().IsRegular() {
				found[key] = makeEntry(key, l, fi)
			}
		}
		if len(vanished) == 0 {
			break
		}
		if round == maxRetries {
			return nil, f.busy(vanished[0])
		}
		locs, err := f.list()
		if err != nil {
			return nil, err
		}
		pending = make(map[string]loc, len(vanished))
		for _, key := range vanished {
			if l, ok := locs[key]; ok {
				pending[key] = l
			}
		}
	}
	entries := make([]Entry, 0, len(found))
	cache := make(map[string]string, len(found))
	for key, e := range found {
		entries = append(entries, e)
		cache[key] = encodeLoc(key, loc{e.Dir, e.Name})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	f.mu.Lock()
	f.cache = cache
	f.index = nil
	f.others = [2]nameset.Set{}
	f.mu.Unlock()
	return entries, nil
}

// stat returns the entry of the regular file at l, if there is one.
func (f *Folder) stat(key string, l loc) (Entry, bool) {
	fi, err := os.Lstat(filepath.Join(f.path, l.dir, l.name))
	if err != nil || !fi.Mode().IsRegular() {
		return Entry{}, false
	}
	return makeEntry(key, l, fi), true
}

func validKey(key string) bool {
	return key != "" && key[0] != '.' && !strings.ContainsRune(key, '/') && !strings.Contains(key, infoSep)
}

// Lookup returns the current file of key. It tries where the key was
// last seen and new/<key> first, then reads new/ and cur/. A key that is
// not there gives an error with errors.Is(err, fs.ErrNotExist).
func (f *Folder) Lookup(key string) (Entry, error) {
	if !validKey(key) {
		return Entry{}, f.errorf("invalid message key %q: %w", key, fs.ErrNotExist)
	}
	l, expected := f.cached(key)
	if expected {
		if e, ok := f.stat(key, l); ok {
			return e, nil
		}
	}
	// Past here the folder was not where the last List and our own
	// changes left it (see Unchanged), unless a key not expected is
	// not found.
	if e, ok := f.stat(key, loc{"new", key}); ok {
		f.surprise()
		f.remember(key, loc{"new", key})
		return e, nil
	}
	for range maxRetries {
		locs, err := f.list()
		if err != nil {
			return Entry{}, err
		}
		l, ok := locs[key]
		if !ok {
			if expected {
				f.surprise()
			}
			f.forget(key)
			return Entry{}, f.notExist(key)
		}
		f.surprise()
		fi, err := os.Lstat(filepath.Join(f.path, l.dir, l.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // renamed since listed
		}
		if err != nil {
			return Entry{}, f.errorf("message %s: %w", key, err)
		}
		if !fi.Mode().IsRegular() {
			return Entry{}, f.notExist(key)
		}
		f.remember(key, l)
		return makeEntry(key, l, fi), nil
	}
	return Entry{}, f.busy(key)
}

// DeliverSync is Deliver followed by SyncDirs. When only SyncDirs fails
// it returns the entry with the error: the message is there but may not
// survive a crash.
func (f *Folder) DeliverSync(body []byte, flags model.Flags, mtime time.Time) (Entry, error) {
	e, err := f.Deliver(body, flags, mtime)
	if err != nil {
		return e, err
	}
	return e, f.SyncDirs()
}

// SyncDirs fsyncs new/ and cur/, making the deliveries, renames and
// removals done in them so far durable.
func (f *Folder) SyncDirs() error {
	for _, d := range [...]string{"new", "cur"} {
		if err := syncDir(filepath.Join(f.path, d)); err != nil {
			return f.errorf("%w", err)
		}
	}
	return nil
}

// SetFlags gives the message key the standard flags flags, keeping the
// other info letters (keywords) of its name: the file is renamed to
// cur/<key>:2,<letters in ASCII order>, moving it out of new/, and the
// directories touched are fsynced. Nothing happens (no rename, no mtime
// change) when the name would not change, and a message in new/ without
// info stays there when flags is empty (where Deliver would put it). When
// another program renames the file in between, SetFlags looks it up
// again; errors.Is(err, fs.ErrNotExist) when the key is gone.
func (f *Folder) SetFlags(key string, flags model.Flags) (Entry, error) {
	return f.setInfo(key, func(old string) string { return mergeInfo(old, flags) })
}

// Remove deletes the file of message key and fsyncs its directory. When
// another program renames the file in between, Remove looks it up again;
// errors.Is(err, fs.ErrNotExist) when the key is already gone.
func (f *Folder) Remove(key string) error {
	for range maxRetries {
		e, err := f.Lookup(key)
		if err != nil {
			return err
		}
		if err := os.Remove(f.EntryPath(e)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.forget(key)
				continue
			}
			return f.errorf("remove %s: %w", key, err)
		}
		f.forget(key)
		f.expect(e.Dir, false, e.Name)
		if err := f.syncDirNow(e.Dir); err != nil {
			return f.errorf("%w", err)
		}
		return nil
	}
	return f.busy(key)
}

// ReadFile returns the whole content of message key and its entry (Size
// is the number of bytes read). When the file is renamed between lookup
// and open, it looks it up again; errors.Is(err, fs.ErrNotExist) when the
// key is gone.
func (f *Folder) ReadFile(key string) ([]byte, Entry, error) {
	fh, e, err := f.Open(key)
	if err != nil {
		return nil, Entry{}, err
	}
	// The open file stays readable whatever happens to its name.
	body, err := io.ReadAll(fh)
	fh.Close()
	if err != nil {
		return nil, Entry{}, f.errorf("read %s: %w", key, err)
	}
	e.Size = int64(len(body))
	return body, e, nil
}

// CleanTmp removes the files in tmp/ that have not changed for olderThan
// (callers use 36 hours): they were left by deliveries that crashed. The
// inode change time is used where the system has one, because a
// delivery in progress may already have set its file's mtime to an old
// message date.
func (f *Folder) CleanTmp(olderThan time.Duration) error {
	dir := filepath.Join(f.path, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return f.errorf("clean tmp: %w", err)
	}
	limit := time.Now().Add(-olderThan)
	var firstErr error
	for _, de := range ents {
		p := filepath.Join(dir, de.Name())
		fi, err := os.Lstat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		changed := changeTime(fi)
		if fi.ModTime().After(changed) {
			changed = fi.ModTime()
		}
		if !changed.Before(limit) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && firstErr == nil {
			firstErr = f.errorf("clean tmp: %w", err)
		}
	}
	return firstErr
}

func isEINVAL(err error) bool { return errors.Is(err, syscall.EINVAL) }
