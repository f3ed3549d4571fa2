// Package redact keeps secrets (passwords, OAuth2 tokens, and the
// encodings they travel in) out of anything mailsync prints: errors, logs,
// JSON and the protocol trace.
//
// A Set holds the secrets of one account or server. Its String, Err and
// Writer replace every occurrence of a secret, and of its base64 forms,
// with "<redacted>". A Set is safe for concurrent use; the zero value and
// a nil *Set redact nothing.
package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "<redacted>"

// Set is a set of secrets to scrub.
type Set struct {
	mu      sync.RWMutex
	secrets []string // longest first, so that a secret inside another goes second
}

// Add registers secrets. Empty strings are ignored. Each secret is also
// registered in standard base64, as it appears in SASL exchanges.
func (s *Set) Add(secrets ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, v := range []string{sec, base64.StdEncoding.EncodeToString([]byte(sec)), base64.RawStdEncoding.EncodeToString([]byte(sec))} {
			if !contains(s.secrets, v) {
				s.secrets = append(s.secrets, v)
			}
		}
	}
	sort.SliceStable(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// String returns text with every secret replaced by Mask.
func (s *Set) String(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sec := range s.secrets {
		if strings.Contains(text, sec) {
			text = strings.ReplaceAll(text, sec, Mask)
		}
	}
	return text
}

// Err wraps err so that its message is scrubbed; errors.Is and errors.As
// still see the original chain. nil stays nil.
func (s *Set) Err(err error) error {
	if err == nil || s == nil {
		return err
	}
	var already *scrubbed
	if errors.As(err, &already) && already.set == s {
		return err
	}
	return &scrubbed{err: err, set: s}
}

type scrubbed struct {
	err error
	set *Set
}

func (e *scrubbed) Error() string { return e.set.String(e.err.Error()) }
func (e *scrubbed) Unwrap() error { return e.err }

// Writer returns a writer that scrubs each line before writing it to w.
// Output is held until a newline (or Close) so that a secret split across
// two writes is still found. Close flushes what is left; it does not
// close w.
func (s *Set) Writer(w io.Writer) io.WriteCloser {
	return &lineWriter{w: w, set: s}
}

type lineWriter struct {
	mu   sync.Mutex
	w    io.Writer
	set  *Set
	imap *imapState // nil: scrub secrets only
	buf  []byte
}

func (l *lineWriter) scrub(line string) string {
	if l.imap != nil {
		line = l.imap.line(line)
	}
	return l.set.String(line)
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(l.w, l.scrub(string(l.buf[:i+1]))); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a very long line: scrub and pass it on in pieces
		if _, err := io.WriteString(l.w, l.scrub(string(l.buf))); err != nil {
			return len(p), err
		}
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(l.w, l.scrub(string(l.buf)))
	l.buf = nil
	return err
}

// IMAPWriter returns a writer for a raw IMAP protocol stream (both
// directions interleaved, as go-imap's imapserver.Options.DebugWriter
// gives it) that, besides scrubbing s's secrets, replaces the arguments
// of LOGIN and AUTHENTICATE and every client line of the SASL exchange
// that follows (until the tagged answer) with Mask.
func (s *Set) IMAPWriter(w io.Writer) io.WriteCloser {
	return &lineWriter{w: w, set: s, imap: &imapState{}}
}

type imapState struct {
	authTag string // tag of an AUTHENTICATE in progress
}

// line redacts one protocol line (with its line end).
func (st *imapState) line(text string) string {
	body := strings.TrimRight(text, "\r\n")
	end := text[len(body):]
	fields := strings.Fields(body)
	if st.authTag != "" {
		switch {
		case len(fields) > 0 && fields[0] == st.authTag:
			st.authTag = ""
			return text
		case strings.HasPrefix(body, "+") || strings.HasPrefix(body, "*"):
			return text
		default:
			return Mask + end
		}
	}
	if len(fields) >= 2 {
		switch strings.ToUpper(fields[1]) {
		case "LOGIN":
			return fields[0] + " LOGIN " + Mask + end
		case "AUTHENTICATE":
			st.authTag = fields[0]
			mech := ""
			if len(fields) >= 3 {
				mech = fields[2] + " "
			}
			return fields[0] + " AUTHENTICATE " + mech + Mask + end
		}
	}
	return text
}
