package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailsync/mailsync/model"
)

// infoSep separates a message key from its info (flags) part.
const infoSep = ":2,"

// ParseName splits a message file name into its key (the part before
// ":2,", or the whole name when there is none), its info (everything
// after ":2,", as is) and the standard flags named by the info.
func ParseName(name string) (key string, info string, flags model.Flags) {
	i := strings.Index(name, infoSep)
	if i < 0 {
		return name, "", 0
	}
	info = name[i+len(infoSep):]
	return name[:i], info, model.FlagsFromLetters(info)
}

// standardLetters are the info letters that model.Flags represents.
const standardLetters = "DFPRST"

// mergeInfo returns the info for flags, keeping the characters of old
// that are not standard flag letters (keywords such as 'a', 'b'); the
// result is in ASCII order without repeats.
func mergeInfo(old string, flags model.Flags) string {
	b := []byte(flags.Letters())
	for i := 0; i < len(old); i++ {
		if strings.IndexByte(standardLetters, old[i]) < 0 {
			b = append(b, old[i])
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	out := b[:0]
	for i, c := range b {
		if i == 0 || c != b[i-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

var (
	keyCounter  atomic.Uint64
	hostOnce    sync.Once
	hostEscaped string
)

func escapedHostname() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		h = strings.ReplaceAll(h, "/", `\057`)
		h = strings.ReplaceAll(h, ":", `\072`)
		hostEscaped = h
	})
	return hostEscaped
}

// NewKey returns a fresh message key:
// <unix seconds>.M<usec>P<pid>R<16 hex random>Q<counter>.<hostname>, with
// '/' and ':' in the host name written \057 and \072. The per-process
// counter makes keys unique between goroutines even within one
// microsecond, the pid between processes, the random part across pid
// reuse and clock steps.
func NewKey() string {
	now := time.Now()
	var r [8]byte
	rand.Read(r[:]) // never fails (crypto/rand panics instead)
	var b strings.Builder
	b.Grow(80)
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(".M")
	b.WriteString(strconv.Itoa(now.Nanosecond() / 1000))
	b.WriteByte('P')
	b.WriteString(strconv.Itoa(os.Getpid()))
	b.WriteByte('R')
	b.WriteString(hex.EncodeToString(r[:]))
	b.WriteByte('Q')
	b.WriteString(strconv.FormatUint(keyCounter.Add(1), 10))
	b.WriteByte('.')
	b.WriteString(escapedHostname())
	return b.String()
}

// DirName returns the directory, relative to the Maildir root, of folder
// name: "" for INBOX, ".A.B" for "A/B". Within a level '%' is written
// "%25" and '.' is written "%2E", so the mapping is reversible
// (FolderName). name should be valid for model.CleanFolderName; it is
// canonicalised first when it is ("inbox" gives "").
func DirName(name string) string {
	if c, err := model.CleanFolderName(name); err == nil {
		name = c
	}
	if name == model.Inbox {
		return ""
	}
	var b strings.Builder
	for _, level := range strings.Split(name, "/") {
		b.WriteByte('.')
		for i := 0; i < len(level); i++ {
			switch c := level[i]; c {
			case '%':
				b.WriteString("%25")
			case '.':
				b.WriteString("%2E")
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// FolderName is the inverse of DirName for a directory name such as
// ".A.B". It reports false for anything DirName would not produce: names
// not starting with '.', empty levels, unknown or lowercase escapes,
// invalid folder names, and non-canonical spellings such as ".INBOX" or
// ".inbox.X" (which would not round-trip to the same directory).
func FolderName(dir string) (string, bool) {
	if len(dir) < 2 || dir[0] != '.' {
		return "", false
	}
	levels := strings.Split(dir[1:], ".")
	for i, l := range levels {
		if l == "" {
			return "", false
		}
		var b strings.Builder
		for j := 0; j < len(l); j++ {
			switch {
			case l[j] != '%':
				b.WriteByte(l[j])
			case strings.HasPrefix(l[j:], "%2E"):
				b.WriteByte('.')
				j += 2
			case strings.HasPrefix(l[j:], "%25"):
				b.WriteByte('%')
				j += 2
			default:
				return "", false
			}
		}
		levels[i] = b.String()
	}
	name, err := model.CleanFolderName(strings.Join(levels, "/"))
	if err != nil || DirName(name) != dir {
		return "", false
	}
	return name, true
}
