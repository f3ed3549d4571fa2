package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailsync/mailsync/model"
)

// KeywordsFile is the per-folder file, in Dovecot's format, that maps
// keyword letters of file names to keyword names.
const KeywordsFile = "dovecot-keywords"

// MaxKeywords is how many keywords a folder can name: the letters a to z.
const MaxKeywords = 26

// ErrTooManyKeywords is returned by Keywords.Add when the 26 letters are
// all taken.
var ErrTooManyKeywords = errors.New("all 26 keyword letters of the folder are taken")

// Keywords is a folder's keyword map, Dovecot's convention: the file
// dovecot-keywords holds lines "N name" (N from 0 to 25), and keyword N is
// the lowercase letter 'a'+N in the info part of a message file name
// (":2,FSab"). A Keywords is a snapshot of the file; Add extends it and
// the file together. Entries are never renumbered or removed, and
// letters the file does not name are unknown keywords that callers keep
// on the messages as they are. Names compare case-insensitively (IMAP
// keywords do); the spelling first written is kept.
//
// A Keywords is not safe for concurrent use; Folder.Keywords returns a
// fresh one each time.
type Keywords struct {
	names [MaxKeywords]string
}

// Name returns the keyword name of letter ('a'..'z'), false when the
// letter names no keyword.
func (k *Keywords) Name(letter byte) (string, bool) {
	if letter < 'a' || letter > 'z' || k.names[letter-'a'] == "" {
		return "", false
	}
	return k.names[letter-'a'], true
}

// Letter returns the letter of keyword name, false when the map does not
// have it.
func (k *Keywords) Letter(name string) (byte, bool) {
	for i, n := range k.names {
		if n != "" && strings.EqualFold(n, name) {
			return byte('a' + i), true
		}
	}
	return 0, false
}

// Letters returns the letters of every mapped letter, in order: the
// letters whose meaning a caller may change on a message.
func (k *Keywords) Letters() string {
	var b []byte
	for i, n := range k.names {
		if n != "" {
			b = append(b, byte('a'+i))
		}
	}
	return string(b)
}

// All returns the mapped names in letter order.
func (k *Keywords) All() []string {
	var out []string
	for _, n := range k.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// NamesOf returns the keyword names of the lowercase letters in info, in
// letter order; letters the map does not name are left out.
func (k *Keywords) NamesOf(info string) []string {
	var out []string
	for i := 0; i < len(info); i++ {
		if n, ok := k.Name(info[i]); ok {
			out = append(out, n)
		}
	}
	return out
}

// LettersOf returns the letters of names, sorted and without repeats,
// and the names the map does not have.
func (k *Keywords) LettersOf(names []string) (letters string, missing []string) {
	var b []byte
	for _, n := range names {
		if l, ok := k.Letter(n); ok {
			b = append(b, l)
		} else {
			missing = append(missing, n)
		}
	}
	return sortedUnique(b), missing
}

func sortedUnique(b []byte) string {
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	out := b[:0]
	for i, c := range b {
		if i == 0 || c != b[i-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

// parseKeywords reads Dovecot's format. Lines that do not parse, numbers
// out of range and repeated numbers (after the first) are ignored, as
// Dovecot does.
func parseKeywords(data []byte) *Keywords {
	k := &Keywords{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		num, name, ok := strings.Cut(strings.TrimRight(sc.Text(), "\r"), " ")
		if !ok || name == "" {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || n >= MaxKeywords || k.names[n] != "" {
			continue
		}
		if _, dup := k.Letter(name); dup {
			continue
		}
		k.names[n] = name
	}
	return k
}

func (k *Keywords) marshal() []byte {
	var b bytes.Buffer
	for i, n := range k.names {
		if n != "" {
			fmt.Fprintf(&b, "%d %s\n", i, n)
		}
	}
	return b.Bytes()
}

// Keywords reads the folder's keyword map. A missing file is an empty
// map.
func (f *Folder) Keywords() (*Keywords, error) {
	data, err := os.ReadFile(filepath.Join(f.path, KeywordsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &Keywords{}, nil
	}
	if err != nil {
		return nil, f.errorf("read %s: %w", KeywordsFile, err)
	}
	return parseKeywords(data), nil
}

// KeywordsStamp returns the modification time and size of the keyword
// file (zero when there is none), so that a caller holding a map can
// tell cheaply whether to read it again.
func (f *Folder) KeywordsStamp() (time.Time, int64) {
	fi, err := os.Stat(filepath.Join(f.path, KeywordsFile))
	if err != nil {
		return time.Time{}, 0
	}
	return fi.ModTime(), fi.Size()
}

// keywordLockStale is how old a dovecot-keywords.lock must be before it
// is taken for the leftover of a crash.
const keywordLockStale = 30 * time.Second

// AddKeywords gives each of names that the folder's map lacks the lowest
// free letter and writes the file atomically (a temporary file renamed
// over it, then the folder fsynced), under Dovecot's lock file
// dovecot-keywords.lock, re-reading the file under the lock so that
// entries written meanwhile by other programs are kept and never
// renumbered. It returns the map as written. When the letters run out
// it adds what fits and returns ErrTooManyKeywords with the map.
func (f *Folder) AddKeywords(names ...string) (*Keywords, error) {
	k, err := f.Keywords()
	if err != nil {
		return nil, err
	}
	if _, missing := k.LettersOf(names); len(missing) == 0 {
		return k, nil
	}
	unlock, err := f.lockKeywords()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if k, err = f.Keywords(); err != nil {
		return nil, err
	}
	_, missing := k.LettersOf(names)
	if len(missing) == 0 {
		return k, nil
	}
	var full bool
	for _, n := range missing {
		if _, ok := k.Letter(n); ok {
			continue // repeated in names
		}
		slot := -1
		for i, have := range k.names {
			if have == "" {
				slot = i
				break
			}
		}
		if slot < 0 {
			full = true
			break
		}
		k.names[slot] = n
	}
	if err := writeFileAtomic(f.path, KeywordsFile, k.marshal()); err != nil {
		return nil, f.errorf("write %s: %w", KeywordsFile, err)
	}
	if full {
		return k, ErrTooManyKeywords
	}
	return k, nil
}

// keywordLockWait is how long lockKeywords waits for another holder.
var keywordLockWait = 10 * time.Second

// lockKeywords takes dovecot-keywords.lock (created with O_EXCL, as
// Dovecot's dotlock does, holding "PID:HOST" as Dovecot's do), waiting
// for another holder up to keywordLockWait. A lock is broken when it is
// older than keywordLockStale, or at once when it names a process of
// this host that no longer runs (a run killed while it held the lock:
// its next run must not fail on the leftover).
func (f *Folder) lockKeywords() (func(), error) {
	p := filepath.Join(f.path, KeywordsFile+".lock")
	deadline := time.Now().Add(keywordLockWait)
	for {
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			fh.WriteString(lockOwner())
			fh.Close()
			return func() { os.Remove(p) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, f.errorf("lock %s: %w", KeywordsFile, err)
		}
		if staleLock(p) {
			os.Remove(p)
			continue
		}
		if time.Now().After(deadline) {
			return nil, f.errorf("%s is locked by another program (remove %s if none runs)", KeywordsFile, p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockOwner is what a lock file of this process holds: "PID:HOST".
func lockOwner() string {
	host, _ := os.Hostname()
	return strconv.Itoa(os.Getpid()) + ":" + host
}

// staleLock reports whether the lock file p is a leftover: older than
// keywordLockStale, or naming a process of this host that is gone. A
// lock whose holder cannot be told (empty while being written, another
// host, another program's format) waits for the age rule.
func staleLock(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false // gone meanwhile: try again
	}
	if time.Since(fi.ModTime()) > keywordLockStale {
		return true
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	pidText, host, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	me, _ := os.Hostname()
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 || host != me {
		return false
	}
	return processGone(pid)
}

// writeFileAtomic writes dir/name through a temporary file in dir:
// write, fsync, rename over name, fsync dir.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, "."+name+"."+NewKey())
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// SetInfo gives message key the standard flags flags and the keyword
// letters keywords (lowercase letters, any order), replacing the letters
// in managed and keeping every other character of the old info (letters
// of keywords the caller does not know): the file is renamed to
// cur/<key>:2,<info in ASCII order> and the directories touched are
// fsynced. Like SetFlags it does nothing when the name would not change,
// follows renames by other programs, and gives errors.Is(err,
// fs.ErrNotExist) when the key is gone.
func (f *Folder) SetInfo(key string, flags model.Flags, keywords, managed string) (Entry, error) {
	return f.setInfo(key, func(old string) string {
		b := []byte(flags.Letters() + keywords)
		for i := 0; i < len(old); i++ {
			c := old[i]
			if strings.IndexByte(standardLetters, c) < 0 && strings.IndexByte(managed, c) < 0 {
				b = append(b, c)
			}
		}
		return sortedUnique(b)
	})
}

// KeywordLetters returns the lowercase letters of an info part, sorted.
func KeywordLetters(info string) string {
	var b []byte
	for i := 0; i < len(info); i++ {
		if c := info[i]; c >= 'a' && c <= 'z' {
			b = append(b, c)
		}
	}
	return sortedUnique(b)
}
