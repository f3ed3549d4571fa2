package imapconn

import (
	"bytes"
	"encoding/base64"
	"net"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// listGuard sits between the server and go-imap's reader and drops LIST
// and LSUB responses whose mailbox name is not valid modified UTF-7
// (RFC 3501 5.1.3). go-imap v2 closes the connection on such a name,
// which would make every folder of the account unreachable; dropped
// names are reported by ListFolders as skipped instead. Literals (message
// bodies) pass through unscanned.
type listGuard struct {
	net.Conn

	buf     []byte
	line    []byte // the current response line, up to its "\n"
	out     []byte // filtered bytes; out[off:] is not yet returned
	off     int
	literal int64 // bytes of a literal still to pass through

	mu      sync.Mutex
	dropped []string
}

func (g *listGuard) Read(b []byte) (int, error) {
	for g.off == len(g.out) {
		g.out, g.off = g.out[:0], 0
		if g.buf == nil {
			g.buf = make([]byte, 32*1024)
		}
		n, err := g.Conn.Read(g.buf)
		g.feed(g.buf[:n])
		if len(g.out) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(b, g.out[g.off:])
	g.off += n
	return n, nil
}

// feed runs p through the filter into g.out.
func (g *listGuard) feed(p []byte) {
	for len(p) > 0 {
		if g.literal > 0 {
			n := min(int64(len(p)), g.literal)
			g.out = append(g.out, p[:n]...)
			g.literal -= n
			p = p[n:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.line = append(g.line, p...)
			return
		}
		g.line = append(g.line, p[:i+1]...)
		p = p[i+1:]
		g.endLine()
	}
}

// endLine decides about the complete line in g.line.
func (g *listGuard) endLine() {
	line := g.line
	g.line = nil
	if n, ok := literalSize(line); ok {
		g.out = append(g.out, line...)
		g.literal = n
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
