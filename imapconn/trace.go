package imapconn

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/mailsync/mailsync/internal/redact"
)

// traceConn copies what is read and written to a tracer.
type traceConn struct {
	net.Conn
	t *tracer
}

func (c *traceConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.t.write(dirServer, b[:n])
	}
	return n, err
}

func (c *traceConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.t.write(dirClient, b[:n])
	}
	return n, err
}

func (c *traceConn) Close() error {
	err := c.Conn.Close()
	c.t.flush()
	return err
}

const (
	dirClient = 0
	dirServer = 1
)

// tracer writes the protocol trace line by line, with "C: " and "S: "
// prefixes. From a client LOGIN or AUTHENTICATE line until the server's
// next tagged response, client lines (the credentials, SASL responses and
// literals) are replaced by "<redacted>". A line is written only once it
// is complete, so a password split over two writes never leaks.
type tracer struct {
	mu     sync.Mutex
	sec    *redact.Set // scrubs secrets a server echoes, too
	w      io.Writer
	buf    [2][]byte
	secret bool
}

func (t *tracer) write(dir int, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf[dir] = append(t.buf[dir], p...)
	for {
		i := bytes.IndexByte(t.buf[dir], '\n')
		if i < 0 {
			break
		}
		line := t.buf[dir][:i+1]
		t.emit(dir, line)
		t.buf[dir] = t.buf[dir][i+1:]
	}
	if len(t.buf[dir]) == 0 {
		t.buf[dir] = nil
	}
}

func (t *tracer) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for dir := range t.buf {
		if len(t.buf[dir]) > 0 {
			t.emit(dir, t.buf[dir])
			t.buf[dir] = nil
		}
	}
}

func (t *tracer) emit(dir int, line []byte) {
	text := t.sec.String(strings.TrimRight(string(line), "\r\n"))
	if dir == dirServer {
		if t.secret && !strings.HasPrefix(text, "*") && !strings.HasPrefix(text, "+") {
			t.secret = false // the tagged answer to LOGIN/AUTHENTICATE
		}
		io.WriteString(t.w, "S: "+text+"\n")
		return
	}
	if t.secret {
		io.WriteString(t.w, "C: <redacted>\n")
		return
	}
	fields := strings.Fields(text)
	if len(fields) >= 2 {
		switch strings.ToUpper(fields[1]) {
		case "LOGIN":
			t.secret = true
			io.WriteString(t.w, "C: "+fields[0]+" LOGIN <redacted>\n")
			return
		case "AUTHENTICATE":
			t.secret = true
			mech := ""
			if len(fields) >= 3 {
				mech = " " + fields[2]
			}
			io.WriteString(t.w, "C: "+fields[0]+" AUTHENTICATE"+mech+" <redacted>\n")
			return
		}
	}
	io.WriteString(t.w, "C: "+text+"\n")
}
