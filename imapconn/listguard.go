package imapconn

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// listGuard sits between the server and go-imap's reader. It drops LIST
// and LSUB responses whose mailbox name is not valid modified UTF-7
// (RFC 3501 5.1.3): go-imap v2 closes the connection on such a name,
// which would make every folder of the account unreachable; dropped
// names are reported by ListFolders as skipped instead. A name sent as a
// literal (which may hold a NUL or a CRLF) is judged the same way, the
// response held until it is whole; other literals (message bodies) pass
// through unscanned.
//
// It also bounds what the server can make the client hold: a response
// line (outside literals) longer than maxLine, a LIST/LSUB line longer
// than maxListLine, or a literal announced larger than maxLiteral fails
// the connection with a *limitError before go-imap buffers it. Only
// LIST/LSUB lines are held whole here; other lines stream through.
//
// go-imap sets its own fixed read and write deadlines; the guard ignores
// them (SetDeadline and friends do nothing) because the Conn's watchdog
// enforces Options.Timeout instead. Reads and writes report progress to
// the watchdog.
type listGuard struct {
	net.Conn

	maxLine, maxListLine, maxLiteral int64 // 0: the defaults
	wd                               *watchdog

	buf     []byte
	line    []byte // the current response line (or, when passing, its tail)
	lineLen int64  // bytes of the current line seen so far
	passing bool   // the current line is not LIST/LSUB: streamed through
	out     []byte // filtered bytes; out[off:] is not yet returned
	off     int
	literal int64 // bytes of a literal still to pass through
	// held is a LIST/LSUB response whose name came as a literal: its
	// line, the literal and (once holding is false) the rest of the
	// response, kept until the whole response is in and the name can be
	// judged. holding is true while the literal itself is coming.
	held    []byte
	heldLit int // where the literal starts in held
	holding bool
	err     error // a limit was exceeded: every later Read fails

	// What the current line tells the watchdog (see lineKind).
	talk talk

	mu      sync.Mutex
	dropped []string
	failed  error // g.err, for other goroutines
}

// failure returns the limit the server exceeded, if it did.
func (g *listGuard) failure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failed
}

// Default bounds on server data (see listGuard).
const (
	defaultMaxLine     = 16 << 20 // a UID SEARCH ALL of about two million messages
	defaultMaxListLine = 64 << 10
	defaultMaxLiteral  = 256 << 20
	keepTail           = 32 // bytes of a streamed line kept to spot "{N}"
)

// limitError is the server sending more than a bound allows.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

func (g *listGuard) SetDeadline(time.Time) error      { return nil }
func (g *listGuard) SetReadDeadline(time.Time) error  { return nil }
func (g *listGuard) SetWriteDeadline(time.Time) error { return nil }

func (g *listGuard) Write(b []byte) (int, error) {
	n, err := g.Conn.Write(b)
	if n > 0 && g.wd != nil {
		g.wd.progress()
	}
	return n, err
}

func (g *listGuard) Read(b []byte) (int, error) {
	for g.off == len(g.out) {
		if g.err != nil {
			return 0, g.err
		}
		g.out, g.off = g.out[:0], 0
		if g.buf == nil {
			g.buf = make([]byte, 32*1024)
		}
		n, err := g.Conn.Read(g.buf)
		moved := g.feed(g.buf[:n])
		if chatted := g.talk.takeChatted(); g.wd != nil && moved {
			g.wd.progress()
		} else if g.wd != nil && chatted {
			g.wd.chatter()
		}
		if g.err != nil {
			g.mu.Lock()
			g.failed = g.err
			g.mu.Unlock()
			g.Conn.Close()
			if len(g.out) == 0 {
				return 0, g.err
			}
			break
		}
		if err != nil && g.held != nil {
			// The stream ended inside a held response: let go-imap see
			// what came, as it would have without the guard.
			g.out = append(append(g.out, g.held...), g.line...)
			g.held, g.line, g.lineLen = nil, nil, 0
		}
		if len(g.out) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(b, g.out[g.off:])
	g.off += n
	return n, nil
}

func (g *listGuard) limits() (line, listLine, literal int64) {
	line, listLine, literal = g.maxLine, g.maxListLine, g.maxLiteral
	if line <= 0 {
		line = defaultMaxLine
	}
	if listLine <= 0 {
		listLine = defaultMaxListLine
	}
	if literal <= 0 {
		literal = defaultMaxLiteral
	}
	return
}

// feed runs p through the filter into g.out. It reports whether p
// holds progress for the command in flight (see talk).
func (g *listGuard) feed(p []byte) (moved bool) {
	maxLine, maxListLine, _ := g.limits()
	for len(p) > 0 && g.err == nil {
		if g.literal > 0 {
			n := min(int64(len(p)), g.literal)
			moved = moved || g.talk.literalMoves()
			if g.holding {
				g.held = append(g.held, p[:n]...)
			} else {
				g.out = append(g.out, p[:n]...)
			}
			g.literal -= n
			p = p[n:]
			if g.literal == 0 {
				g.holding = false
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		p = p[len(chunk):]
		moved = g.talk.line(chunk, i >= 0) || moved
		g.lineLen += int64(len(chunk))
		g.line = append(g.line, chunk...)
		if !g.passing && g.held == nil && len(g.line) >= 7 && !isListLine(g.line) {
			g.passing = true
		}
		switch {
		case g.passing && g.lineLen > maxLine:
			g.err = &limitError{fmt.Sprintf("server sent a response line longer than %d bytes", maxLine)}
			return
		case !g.passing && g.lineLen > maxListLine:
			g.err = &limitError{fmt.Sprintf("server sent a LIST response line longer than %d bytes", maxListLine)}
			return
		}
		if i >= 0 {
			_, lit := literalSize(g.line)
			g.talk.endLine(lit)
			g.endLine()
			continue
		}
		if g.passing && len(g.line) > keepTail {
			cut := len(g.line) - keepTail
			g.out = append(g.out, g.line[:cut]...)
			g.line = append(g.line[:0], g.line[cut:]...)
		}
	}
	return moved
}

// isListLine reports whether a line (at least 7 bytes) is a LIST or
// LSUB response, the only lines held whole.
func isListLine(line []byte) bool {
	if line[0] != '*' || line[1] != ' ' {
		return false
	}
	kw := bytes.ToUpper(line[2:7])
	return bytes.Equal(kw, []byte("LIST ")) || bytes.Equal(kw, []byte("LSUB "))
}

// endLine decides about the complete line in g.line.
func (g *listGuard) endLine() {
	line := g.line
	passing := g.passing
	g.line, g.lineLen, g.passing = nil, 0, false
	if g.held != nil {
		g.endHeld(line)
		return
	}
	if n, ok := literalSize(line); ok && !passing && len(line) >= 7 && isListLine(line) {
		// A LIST/LSUB line whose name comes as a literal: hold the
		// response until it is whole (bounded like a LIST line).
		_, maxListLine, _ := g.limits()
		if n > maxListLine {
			g.err = &limitError{fmt.Sprintf("server sent a LIST response with a %d-byte mailbox name", n)}
			return
		}
		g.held = append([]byte(nil), line...)
		g.heldLit = len(line)
		g.literal, g.holding = n, n > 0
		return
	}
	if n, ok := literalSize(line); ok {
		if _, _, maxLit := g.limits(); n > maxLit {
			g.err = &limitError{fmt.Sprintf("server announced a %d-byte literal, more than the %d bytes allowed (max_message_size)", n, maxLit)}
			return
		}
		g.out = append(g.out, line...)
		g.literal = n
		return
	}
	if passing {
		g.out = append(g.out, line...)
		return
	}
	if name, ok := listedName(line); ok && !validMUTF7(name) {
		g.mu.Lock()
		g.dropped = append(g.dropped, name)
		g.mu.Unlock()
		return
	}
	g.out = append(g.out, line...)
}

// endHeld completes a held LIST/LSUB response with the rest of its line
// and passes or drops it: a name go-imap cannot take (not modified
// UTF-7; a NUL, CR or LF in it) drops the whole response, costing that
// folder only.
func (g *listGuard) endHeld(rest []byte) {
	held, name := g.held, string(g.held[g.heldLit:])
	g.held, g.heldLit = nil, 0
	full := append(held, rest...)
	if n, ok := literalSize(rest); ok {
		// Another literal in the same response (extended data): not a
		// name; let it through as it is.
		g.out = append(g.out, full...)
		g.literal = n
		return
	}
	if !validMUTF7(name) {
		g.mu.Lock()
		g.dropped = append(g.dropped, name)
		g.mu.Unlock()
		return
	}
	g.out = append(g.out, full...)
}

// takeDropped returns the names dropped since the last call.
func (g *listGuard) takeDropped() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dropped
	g.dropped = nil
	return d
}

// literalSize reports whether line ends with a literal's announcement,
// "{N}\r\n" or "{N+}\r\n", and N.
func literalSize(line []byte) (int64, bool) {
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(line[i+1:len(line)-1], []byte("+"))
	n, err := strconv.ParseInt(string(num), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return math.MaxInt64, true // all digits, just too many
	}
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// listedName returns the raw mailbox name of a "* LIST" or "* LSUB"
// response line: the last token, a quoted string or an atom.
func listedName(line []byte) (string, bool) {
	if len(line) < 7 || line[0] != '*' || line[1] != ' ' {
		return "", false
	}
	kw := bytes.ToUpper(line[2:7])
	if !bytes.Equal(kw, []byte("LIST ")) && !bytes.Equal(kw, []byte("LSUB ")) {
		return "", false
	}
	line = bytes.TrimRight(line, "\r\n")
	if bytes.HasSuffix(line, []byte(`"`)) {
		// A quoted string: find its opening quote, honouring \" and \\.
		var name []byte
		for i := len(line) - 2; i >= 0; i-- {
			if line[i] == '"' {
				bs := 0
				for j := i - 1; j >= 0 && line[j] == '\\'; j-- {
					bs++
				}
				if bs%2 == 0 {
					unq, err := strconv.Unquote(`"` + string(line[i+1:len(line)-1]) + `"`)
					if err != nil {
						return "", false
					}
					name = []byte(unq)
					return string(name), true
				}
			}
		}
		return "", false
	}
	i := bytes.LastIndexByte(line, ' ')
	if i < 0 {
		return "", false
	}
	return string(line[i+1:]), true
}

var mutf7Base64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// validMUTF7 reports whether name is modified UTF-7 as go-imap's decoder
// accepts it: printable ASCII (or UTF-8), "&-" for "&", and "&...-"
// shifts holding modified base64 of UTF-16 for characters that cannot be
// written as printable ASCII, never two shifts in a row.
func validMUTF7(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	ascii := true
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch < 0x20 || (ch > 0x7e && ch < utf8.RuneSelf) {
			return false
		}
		if ch != '&' {
			ascii = true
			continue
		}
		start := i + 1
		for i++; i < len(name) && name[i] != '-'; i++ {
			if name[i] == '\r' || name[i] == '\n' {
				return false
			}
		}
		if i == len(name) {
			return false
		}
		if i == start {
			ascii = true
			continue
		}
		if !ascii || !validShift(name[start:i]) {
			return false
		}
		ascii = false
	}
	return true
}

func validShift(b64 string) bool {
	raw, err := mutf7Base64.DecodeString(b64)
	if err != nil || len(raw) == 0 || len(raw)%2 == 1 {
		return false
	}
	for i := 0; i < len(raw); i += 2 {
		r := rune(raw[i])<<8 | rune(raw[i+1])
		if utf16.IsSurrogate(r) {
			if i += 2; i == len(raw) {
				return false
			}
			r2 := rune(raw[i])<<8 | rune(raw[i+1])
			if utf16.DecodeRune(r, r2) == utf8.RuneError {
				return false
			}
		} else if r >= 0x20 && r <= 0x7e {
			return false
		}
	}
	return true
}
