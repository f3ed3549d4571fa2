package maildir

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailsync/mailsync/model"
)

// setInfo renames message key's file to cur/<key>:2,<newInfo(old info)>,
// as SetFlags does for standard flags (see SetInfo).
func (f *Folder) setInfo(key string, newInfo func(old string) string) (Entry, error) {
	for range maxRetries {
		e, err := f.Lookup(key)
		if err != nil {
			return Entry{}, err
		}
		info := newInfo(e.Info)
		if e.Dir == "new" && e.Name == key && info == "" {
			return e, nil
		}
		to := loc{"cur", key + infoSep + info}
		if e.Dir == to.dir && e.Name == to.name {
			return e, nil
		}
		from := filepath.Join(f.path, e.Dir, e.Name)
		if err := renameFile(from, filepath.Join(f.path, to.dir, to.name)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Lstat(from); errors.Is(serr, fs.ErrNotExist) {
					f.forget(key)
					continue // renamed or removed by someone else
				}
			}
			return Entry{}, f.errorf("set flags of %s: %w", key, err)
		}
		f.remember(key, to)
		f.expect(e.Dir, false, e.Name)
		f.expect(to.dir, true, to.name)
		if err := f.syncDirNow(to.dir); err != nil {
			return Entry{}, f.errorf("%w", err)
		}
		if e.Dir != to.dir {
			if err := f.syncDirNow(e.Dir); err != nil {
				return Entry{}, f.errorf("%w", err)
			}
		}
		e.Dir, e.Name, e.Info = to.dir, to.name, info
		_, _, e.Flags = ParseName(to.name)
		return e, nil
	}
	return Entry{}, f.busy(key)
}

// MoveToCur renames a message in new/ to cur/<key>:2,<info> (the way
// Dovecot takes new mail in when a folder is selected). A message
// already in cur/ is left alone. The caller fsyncs the directories
// (SyncDirs).
func (f *Folder) MoveToCur(key string) (Entry, error) {
	for range maxRetries {
		e, err := f.Lookup(key)
		if err != nil {
			return Entry{}, err
		}
		if e.Dir == "cur" {
			return e, nil
		}
		to := loc{"cur", key + infoSep + e.Info}
		from := filepath.Join(f.path, e.Dir, e.Name)
		if err := renameFile(from, filepath.Join(f.path, to.dir, to.name)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.forget(key)
				continue
			}
			return Entry{}, f.errorf("move %s to cur: %w", key, err)
		}
		f.remember(key, to)
		f.expect(e.Dir, false, e.Name)
		f.expect(to.dir, true, to.name)
		e.Dir, e.Name = to.dir, to.name
		return e, nil
	}
	return Entry{}, f.busy(key)
}

// Staged is a message written to tmp/ and not yet delivered. Exactly one
// of Deliver and Discard must be called.
type Staged struct {
	f    *Folder
	key  string
	tmp  string
	done bool
	// The fsync, stat and close of the file run in the background
	// (stageSync); ready gives their outcome, once, into fi and err.
	ready  chan struct{}
	fi     os.FileInfo
	err    error
	waited bool
}

// stageSlots bounds the staged files whose fsync is still running (each
// holds an open file): StageFile waits for a slot. Fsyncs of many files
// in flight at once let the file system commit them together (ext4
// groups them into one journal commit), where one after the other each
// waits for the disk: a download of many small messages is bound by
// fsync latency otherwise.
var stageSlots = make(chan struct{}, 32)

// stageSync makes a staged file durable (fsync), reads its size and
// mtime and closes it, then frees its slot and reports on s.ready.
func (s *Staged) stageSync(fh *os.File) {
	defer func() { <-stageSlots; close(s.ready) }()
	err := fh.Sync()
	var fi os.FileInfo
	if err == nil {
		fi, err = fh.Stat()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	s.fi, s.err = fi, err
}

// wait waits for the background fsync; on its failure the staged file
// is removed and the error returned.
func (s *Staged) wait() error {
	<-s.ready
	if s.err != nil && !s.waited {
		os.Remove(s.tmp)
		s.err = s.f.errorf("deliver %s: %w", s.key, s.err)
	}
	s.waited = true
	return s.err
}

// Stage streams r into tmp/<NewKey()>.staged (O_EXCL), sets its mtime
// to mtime unless zero, and fsyncs and closes it, without holding the message in
// memory. The fsync runs in the background, so that a caller staging
// many messages is not bound by the disk's latency; Deliver (and Size
// and Discard) wait for it. On any error, including one from r, the file is removed.
// Stage takes no lock: callers stage a slow upload first and Deliver it
// under whatever lock orders their deliveries.
func (f *Folder) Stage(r io.Reader, mtime time.Time) (*Staged, error) {
	return f.StageFile(func(fh *os.File) error {
		_, err := io.Copy(fh, r)
		return err
	}, mtime)
}

// stagedSuffix ends the tmp/ names of staged messages, so that
// RemoveStaged finds those a crash left without opening other programs'
// files.
const stagedSuffix = ".staged"

// StageFile is Stage for a writer that needs the file itself: fill
// writes the message into fh, a new empty file in tmp/ opened for
// reading and writing (it may write at any offset, and read back what
// it wrote, as model.LocalFormWriter does; the file's size when fill
// returns is the message's). fill must not close fh. On any error,
// including one from fill, the file is removed.
func (f *Folder) StageFile(fill func(fh *os.File) error, mtime time.Time) (*Staged, error) {
	key := NewKey()
	tmp := filepath.Join(f.path, "tmp", key+stagedSuffix)
	fh, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, f.errorf("deliver: %w", err)
	}
	fail := func(err error) (*Staged, error) {
		if fh != nil {
			fh.Close()
		}
		os.Remove(tmp)
		return nil, f.errorf("deliver %s: %w", key, err)
	}
	if err := fill(fh); err != nil {
		return fail(err)
	}
	if !mtime.IsZero() {
		// Before the fsync, so that the date is as durable as the body.
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			return fail(err)
		}
	}
	// The fsync runs in the background; Deliver, Discard and Size wait
	// for it. The file is durable before it is renamed into place.
	stageSlots <- struct{}{}
	s := &Staged{f: f, key: key, tmp: tmp, ready: make(chan struct{})}
	go s.stageSync(fh)
	return s, nil
}

// CleanStaged removes the messages staged in tmp/ (by Stage or
// StageFile) before the time before: a staged message is delivered or
// discarded by the process that staged it, so one still there when a
// later run starts was left by a process killed before it could (before
// it recorded what it staged, or after). Only staged files are looked
// at; other programs' tmp/ files are CleanTmp's.
func (f *Folder) CleanStaged(before time.Time) error {
	return f.removeStaged(func(p string) bool {
		fi, err := os.Lstat(p)
		return err == nil && changeTime(fi).Before(before) // not gone meanwhile, nor staged by this run
	})
}

// RemoveStaged removes the messages staged in tmp/ and never delivered
// or discarded (a crash came first) for which match, given the open file
// and its size, says so; it does not open other files of tmp/. It is for
// a caller that recorded what it staged (by content) before the crash,
// and may be racing with nothing but itself.
func (f *Folder) RemoveStaged(match func(r io.ReaderAt, size int64) bool) error {
	return f.removeStaged(func(p string) bool {
		fh, err := os.Open(p)
		if err != nil {
			return false // gone meanwhile
		}
		defer fh.Close()
		fi, err := fh.Stat()
		return err == nil && match(fh, fi.Size())
	})
}

// removeStaged removes the staged files of tmp/ (regular files named
// with stagedSuffix) for whose path drop says so.
func (f *Folder) removeStaged(drop func(path string) bool) error {
	dir := filepath.Join(f.path, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return f.errorf("clean tmp: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), stagedSuffix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !drop(p) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return f.errorf("clean tmp: %w", err)
		}
	}
	return nil
}

// Size is the number of bytes staged (0 when staging failed: Deliver
// then says why).
func (s *Staged) Size() int64 {
	if s.wait() != nil {
		return 0
	}
	return s.fi.Size()
}

// Deliver renames the staged file to cur/<key>:2,<flags and keyword
// letters> (or new/<key> when both are empty). The caller fsyncs the
// directories (SyncDirs). On error the staged file is removed.
func (s *Staged) Deliver(flags model.Flags, keywords string) (Entry, error) {
	if s.done {
		return Entry{}, s.f.errorf("deliver %s: already delivered or discarded", s.key)
	}
	s.done = true
	if err := s.wait(); err != nil {
		return Entry{}, err
	}
	info := sortedUnique([]byte(flags.Letters() + KeywordLetters(keywords)))
	l := loc{"new", s.key}
	if info != "" {
		l = loc{"cur", s.key + infoSep + info}
	}
	if err := renameFile(s.tmp, filepath.Join(s.f.path, l.dir, l.name)); err != nil {
		os.Remove(s.tmp)
		return Entry{}, s.f.errorf("deliver %s: %w", s.key, err)
	}
	s.f.remember(s.key, l)
	s.f.expect(l.dir, true, l.name)
	return makeEntry(s.key, l, s.fi), nil
}

// Discard removes the staged file; it does nothing after Deliver.
func (s *Staged) Discard() {
	if !s.done {
		s.done = true
		s.wait()
		os.Remove(s.tmp)
	}
}

// DeliverFrom is Stage followed by Staged.Deliver: Deliver for a message
// read from r, with keyword letters, streamed rather than held in memory.
func (f *Folder) DeliverFrom(r io.Reader, flags model.Flags, keywords string, mtime time.Time) (Entry, error) {
	s, err := f.Stage(r, mtime)
	if err != nil {
		return Entry{}, err
	}
	return s.Deliver(flags, keywords)
}

// Deliver stores body as a new message: it writes tmp/<NewKey()> (created
// with O_EXCL), sets its mtime to mtime unless mtime is zero, fsyncs and
// closes it, then renames it to cur/<key>:2,<letters> when flags is not
// empty and to new/<key> otherwise. body is stored byte for byte. On any
// error the tmp file is removed and nothing appears in new/ or cur/.
//
// The message file is durable when Deliver returns, but its directory
// entry is not until SyncDirs (or DeliverSync) returns: callers that
// deliver a batch call SyncDirs once before recording the keys anywhere.
func (f *Folder) Deliver(body []byte, flags model.Flags, mtime time.Time) (Entry, error) {
	return f.DeliverFrom(bytes.NewReader(body), flags, "", mtime)
}

// Open opens the file of message key for reading and returns it with its
// entry (Size is the open file's size): the open file stays readable
// whatever happens to its name. When the file is renamed between lookup
// and open, Open looks it up again; errors.Is(err, fs.ErrNotExist) when
// the key is gone. The caller closes the file.
func (f *Folder) Open(key string) (*os.File, Entry, error) {
	for range maxRetries {
		e, err := f.Lookup(key)
		if err != nil {
			return nil, Entry{}, err
		}
		fh, err := os.Open(f.EntryPath(e))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.forget(key)
				continue
			}
			return nil, Entry{}, f.errorf("read %s: %w", key, err)
		}
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, Entry{}, f.errorf("read %s: %w", key, err)
		}
		e.Size = fi.Size()
		return fh, e, nil
	}
	return nil, Entry{}, f.busy(key)
}
