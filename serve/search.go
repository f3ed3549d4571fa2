package serve

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/mailsync/mailsync/model"
)

// searchMsg is one message as the SEARCH matcher sees it. The content is
// loaded on first use, so criteria on flags, UIDs and dates read no file.
type searchMsg struct {
	seq    uint32 // sequence number in the session's view
	uid    imap.UID
	flags  model.Flags
	kw     []imap.Flag // keyword names
	recent bool
	date   time.Time // INTERNALDATE
	size   int64     // RFC822.SIZE, -1 when unknown
	load   func() ([]byte, error)

	loaded  bool
	raw     []byte // CRLF form
	loadErr error
	header  *gomessage.Header // nil when the header does not parse
	texts   []string          // lower-cased decoded text parts, nil until needed
}

func (m *searchMsg) content() []byte {
	if !m.loaded {
		m.loaded = true
		m.raw, m.loadErr = m.load()
		if m.loadErr == nil {
			m.size = int64(len(m.raw))
			h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(m.raw)))
			if err == nil {
				m.header = &gomessage.Header{Header: h}
			}
		}
	}
	return m.raw
}

func (m *searchMsg) rfc822Size() int64 {
	if m.size < 0 {
		m.content()
	}
	return m.size
}

// matchSearch reports whether m matches every key of c (RFC 3501 6.4.4).
// Sequence and UID sets must already be static (no "*", no "$").
func matchSearch(m *searchMsg, c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if m.seq == 0 || !set.Contains(m.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(m.uid) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !m.hasFlag(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if m.hasFlag(f) {
			return false
		}
	}
	if !matchDate(m.date, c.Since, c.Before) {
		return false
	}
	if c.Larger != 0 && m.rfc822Size() <= c.Larger {
		return false
	}
	if c.Smaller != 0 && m.rfc822Size() >= c.Smaller {
		return false
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		m.content()
		if m.header == nil {
			return false
		}
		t, err := (&mail.Header{Header: *m.header}).Date()
		if err != nil || t.IsZero() || !matchDate(t, c.SentSince, c.SentBefore) {
			return false
		}
	}
	for _, hf := range c.Header {
		if !m.matchHeader(hf.Key, hf.Value) {
			return false
		}
	}
	for _, s := range c.Body {
		if !m.matchBody(s) {
			return false
		}
	}
	for _, s := range c.Text {
		if !m.matchHeaderText(s) && !m.matchBody(s) {
			return false
		}
	}
	for i := range c.Not {
		if matchSearch(m, &c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !matchSearch(m, &c.Or[i][0]) && !matchSearch(m, &c.Or[i][1]) {
			return false
		}
	}
	return true
}

// hasFlag: a standard flag, \Recent (per session) or a keyword
// (case-insensitively, as IMAP compares them).
func (m *searchMsg) hasFlag(f imap.Flag) bool {
	if strings.EqualFold(string(f), string(flagRecent)) {
		return m.recent
	}
	if want := model.FlagsFromIMAP([]string{string(f)}); want != 0 {
		return m.flags&want == want
	}
	for _, k := range m.kw {
		if strings.EqualFold(string(k), string(f)) {
			return true
		}
	}
	return false
}

// matchDate compares dates only, ignoring time and zone, as RFC 3501
// requires: t's own calendar date against [since, before).
func matchDate(t, since, before time.Time) bool {
	if since.IsZero() && before.IsZero() {
		return true
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() {
		s := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)
		if d.Before(s) {
			return false
		}
	}
	if !before.IsZero() {
		b := time.Date(before.Year(), before.Month(), before.Day(), 0, 0, 0, 0, time.UTC)
		if !d.Before(b) {
			return false
		}
	}
	return true
}

func containsFold(haystack, needle string) bool {
	return strings.Contains(strings.ToLower(haystack), strings.ToLower(needle))
}

var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeaderValue decodes RFC 2047 words; on failure the raw value.
func decodeHeaderValue(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// matchHeader: HEADER, FROM, TO, CC, BCC and SUBJECT. The value is
// matched case-insensitively against both the raw and the decoded field;
// an empty value matches any message that has the field.
func (m *searchMsg) matchHeader(key, value string) bool {
	m.content()
	if m.header == nil {
		return false
	}
	fields := m.header.FieldsByKey(key)
	isAddr := false
	switch strings.ToLower(key) {
	case "from", "to", "cc", "bcc":
		isAddr = true
	}
	for fields.Next() {
		if value == "" {
			return true
		}
		raw := fields.Value()
		if isAddr {
			// Addresses as parsed, without comments (Dovecot's way).
			if addrs := addressStrings(raw); len(addrs) > 0 {
				for _, a := range addrs {
					if containsFold(a, value) {
						return true
					}
				}
				continue
			}
		}
		if containsFold(raw, value) || containsFold(decodeHeaderValue(raw), value) {
			return true
		}
	}
	return false
}

func (m *searchMsg) matchHeaderText(s string) bool {
	raw := m.content()
	if m.header == nil {
		return containsFold(string(model.HeaderBlock(raw)), s)
	}
	fields := m.header.Fields()
	for fields.Next() {
		v := fields.Value()
		if containsFold(fields.Key()+": "+v, s) || containsFold(decodeHeaderValue(v), s) {
			return true
		}
	}
	return false
}

// matchBody searches the decoded text parts (transfer encoding undone,
// charset converted to UTF-8 where known). A message go-message cannot
// parse is searched as raw bytes.
func (m *searchMsg) matchBody(s string) bool {
	if s == "" {
		return true
	}
	if m.texts == nil {
		m.texts = bodyTexts(m.content())
	}
	needle := strings.ToLower(s)
	for _, t := range m.texts {
		if strings.Contains(t, needle) {
			return true
		}
	}
	return false
}

func bodyTexts(raw []byte) []string {
	texts := []string{}
	e, err := gomessage.Read(bytes.NewReader(raw))
	if e == nil || (err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err)) {
		body := raw[len(model.HeaderBlock(raw)):]
		return append(texts, strings.ToLower(string(body)))
	}
	walkText(e, 0, func(b []byte) { texts = append(texts, strings.ToLower(string(b))) })
	return texts
}

const maxMIMEDepth = 20

func walkText(e *gomessage.Entity, depth int, add func([]byte)) {
	if depth > maxMIMEDepth {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if p == nil || (err != nil && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err)) {
				return
			}
			walkText(p, depth+1, add)
		}
	}
	t, params, _ := e.Header.ContentType()
	if t == "" {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return
	}
	b, err := io.ReadAll(io.LimitReader(e.Body, 64<<20))
	if err != nil && len(b) == 0 {
		return
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && !utf8.Valid(b) {
		if r, err := charsetReader(cs, bytes.NewReader(b)); err == nil {
			if d, err := io.ReadAll(r); err == nil {
				b = d
			}
		}
	}
	add(b)
}

// charsetReader handles the single-byte charsets common in old mail; the
// go-message charset package would pull in golang.org/x/text, which the
// module does not require.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii", "ascii":
		return r, nil
	case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252", "cp1252", "iso-8859-15":
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return strings.NewReader(sb.String()), nil
	}
	return nil, errors.New("unknown charset " + charset)
}
