package imapconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// byteConn is a net.Conn reading from a fixed input in chunks of n bytes.
type byteConn struct {
	net.Conn
	in []byte
	n  int
}

func (c *byteConn) Read(b []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	k := min(len(b), c.n, len(c.in))
	copy(b, c.in[:k])
	c.in = c.in[k:]
	return k, nil
}

func (c *byteConn) Close() error { return nil }

// guardOutput runs in through a listGuard with small limits, reading in
// chunks of chunk bytes, and returns what go-imap would see, the dropped
// names and whether a limit was hit.
func guardOutput(in []byte, chunk int) (out []byte, dropped []string, limited bool) {
	g := &listGuard{Conn: &byteConn{in: in, n: chunk}, maxLine: 300, maxListLine: 120, maxLiteral: 1000}
	out, err := io.ReadAll(g)
	var le *limitError
	return out, g.takeDropped(), errors.As(err, &le)
}

// FuzzListGuard: the guard's verdict does not depend on how the server's
// bytes are split into reads; without a dropped name or a hit limit it
// passes the stream through unchanged; with a hit limit it says so.
func FuzzListGuard(f *testing.F) {
	for _, s := range []string{
		"* LIST () \"/\" INBOX\r\n",
		"* LIST () \"/\" \"Z&APw-rich\"\r\n* LIST () \"/\" \"bad&\"\r\nA1 OK\r\n",
		"* 1 FETCH (UID 1 BODY[] {5}\r\n* LIS)\r\nA1 OK\r\n",
		"* LSUB () \".\" {3}\r\nabc\r\n",
		"* 1 FETCH (BODY[] {9999999999}\r\n",
		"* SEARCH 1 2 3 4 5 6 7 8 9 10\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		in = append(in, "\r\n"...)
		n := int(chunk)%64 + 1
		whole, dropWhole, limWhole := guardOutput(in, len(in))
		part, dropPart, limPart := guardOutput(in, n)
		if limWhole != limPart {
			t.Fatalf("limit hit %v whole, %v in chunks of %d", limWhole, limPart, n)
		}
		if len(dropWhole) != len(dropPart) {
			t.Fatalf("dropped %q whole, %q in chunks of %d", dropWhole, dropPart, n)
		}
		if limWhole {
			return
		}
		if !bytes.Equal(whole, part) {
			t.Fatalf("output differs by chunking (%d):\n%q\n%q", n, whole, part)
		}
		if len(dropWhole) == 0 && !bytes.Equal(whole, in) {
			t.Fatalf("nothing dropped, but output %q != input %q", whole, in)
		}
		for _, name := range dropWhole {
			if validMUTF7(name) {
				t.Fatalf("dropped valid name %q", name)
			}
		}
	})
}
