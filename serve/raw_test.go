package serve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// rawConn speaks IMAP as raw lines, so that tests see exactly what a
// server sends (and can run the same script against Dovecot and serve).
type rawConn struct {
	t    *testing.T
	name string // "serve" or "dovecot", for messages
	c    net.Conn
	r    *bufio.Reader
	tag  int
	// Greeting is the first line the server sent.
	Greeting string
}

func dialRaw(t *testing.T, name, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, name: name, c: c, r: bufio.NewReader(c)}
	rc.Greeting = rc.line()
	return rc
}

// line reads one response line, with any literals it announces folded
// in (the literal bytes follow the "{n}" as is).
func (rc *rawConn) line() string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	for {
		l, err := rc.r.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			rc.t.Fatalf("%s: read: %v (got %q)", rc.name, err, b.String())
		}
		m := literalRE.FindStringSubmatch(l)
		if m == nil {
			return strings.TrimRight(b.String(), "\r\n")
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := ioReadFull(rc.r, buf); err != nil {
			rc.t.Fatalf("%s: read literal: %v", rc.name, err)
		}
		b.Write(buf)
	}
}

var literalRE = regexp.MustCompile(`~?\{(\d+)\+?\}\r?\n$`)

// cmd sends "Tn " + command and returns every line up to and including
// the tagged one (last).
func (rc *rawConn) cmd(command string) []string {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("T%d", rc.tag)
	rc.write(tag + " " + command + "\r\n")
	return rc.until(tag)
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("%s: write: %v", rc.name, err)
	}
}

func (rc *rawConn) until(tag string) []string {
	rc.t.Helper()
	var out []string
	for {
		l := rc.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// appendMsg APPENDs msg (CRLF) with a synchronising literal.
func (rc *rawConn) appendMsg(folder, flags, msg string) []string {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("T%d", rc.tag)
	if flags != "" {
		flags = "(" + flags + ") "
	}
	rc.write(fmt.Sprintf("%s APPEND %s %s{%d}\r\n", tag, folder, flags, len(msg)))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		rc.t.Fatalf("%s: APPEND: %q", rc.name, l)
	}
	rc.write(msg + "\r\n")
	return rc.until(tag)
}

// ok fails the test unless the last line is a tagged OK.
func (rc *rawConn) ok(lines []string) []string {
	rc.t.Helper()
	last := lines[len(lines)-1]
	if f := strings.Fields(last); len(f) < 2 || f[1] != "OK" {
		rc.t.Fatalf("%s: not OK: %q", rc.name, lines)
	}
	return lines
}

// want fails unless some line matches pattern (a regexp).
func (rc *rawConn) want(lines []string, pattern string) string {
	rc.t.Helper()
	re := regexp.MustCompile(pattern)
	for _, l := range lines {
		if re.MatchString(l) {
			return l
		}
	}
	rc.t.Errorf("%s: no line matches %q in %q", rc.name, pattern, lines)
	return ""
}

// wantSub fails unless some line contains sub (bytes, not a regexp).
func (rc *rawConn) wantSub(lines []string, sub string) {
	rc.t.Helper()
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return
		}
	}
	rc.t.Errorf("%s: no line contains %q in %q", rc.name, sub, lines)
}

// wantNot fails if some line matches pattern.
func (rc *rawConn) wantNot(lines []string, pattern string) {
	rc.t.Helper()
	re := regexp.MustCompile(pattern)
	for _, l := range lines {
		if re.MatchString(l) {
			rc.t.Errorf("%s: line %q matches %q", rc.name, l, pattern)
		}
	}
}

// servers is the pair a conformance check runs against: a Dovecot
// started for the test and a serve on an empty Maildir, both logged in
// by login.
type target struct {
	name  string
	addr  string
	user  string
	pass  string
	env   *testEnv // serve only
	login func(rc *rawConn)
}

func (tg target) dial(t *testing.T) *rawConn {
	rc := dialRaw(t, tg.name, tg.addr)
	rc.ok(rc.cmd(fmt.Sprintf("LOGIN %q %q", tg.user, tg.pass)))
	return rc
}

// bothServers runs check against Dovecot and against serve, as subtests;
// check must pass on both, which is how serve's behaviour is verified
// to be Dovecot's.
func bothServers(t *testing.T, check func(t *testing.T, tg target)) {
	t.Run("dovecot", func(t *testing.T) {
		d := dovecottest.Start(t, nil)
		check(t, target{name: "dovecot", addr: d.Addr, user: d.User, pass: d.Password})
	})
	t.Run("serve", func(t *testing.T) {
		e := newEnv(t, nil)
		check(t, target{name: "serve", addr: e.addr, user: testUser, pass: testPass, env: e})
	})
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }
