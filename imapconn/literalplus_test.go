package imapconn_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
)

// TestAppendWithLiteralPlusSendsNoWait: against a server with LITERAL+
// (RFC 7888), every APPEND's message goes out as a non-synchronizing
// literal ({n+}), big ones too, without waiting for the server's "+"
// continuation: a round trip per message otherwise (go-imap beta.8
// waited for every literal over 4 KiB; vendored patch 12). The server
// here never sends a continuation: a client that waits for one times out.
func TestAppendWithLiteralPlusSendsNoWait(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 10)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
		fmt.Fprintf(w, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready\r\n")
		w.Flush()
		uid := 10
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			fields := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
			if len(fields) < 2 {
				continue
			}
			tag, cmd := fields[0], strings.ToUpper(fields[1])
			switch cmd {
			case "LOGIN", "AUTHENTICATE":
				fmt.Fprintf(w, "%s OK [CAPABILITY IMAP4rev1 UIDPLUS LITERAL+] logged in\r\n", tag)
			case "CAPABILITY":
				fmt.Fprintf(w, "* CAPABILITY IMAP4rev1 UIDPLUS LITERAL+\r\n%s OK done\r\n", tag)
			case "LIST":
				fmt.Fprintf(w, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
			case "APPEND":
				line = strings.TrimRight(line, "\r\n")
				i := strings.LastIndexByte(line, '{')
				if i < 0 || !strings.HasSuffix(line, "+}") {
					got <- "synchronizing literal: " + line
					return // never answers: the client waits for "+"
				}
				n, _ := strconv.Atoi(line[i+1 : len(line)-2])
				if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
					return
				}
				r.ReadString('\n') // the end of the command line
				uid++
				got <- fmt.Sprintf("%d bytes", n)
				fmt.Fprintf(w, "%s OK [APPENDUID 1 %d] stored\r\n", tag, uid)
			case "LOGOUT":
				fmt.Fprintf(w, "* BYE\r\n%s OK bye\r\n", tag)
			default:
				fmt.Fprintf(w, "%s OK done\r\n", tag)
			}
			if w.Flush() != nil {
				return
			}
		}
	}()
	o := imapconn.Options{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none", User: "u", Password: "literal-plus-s3cret",
		DialTimeout: 5 * time.Second, Timeout: 3 * time.Second}
	c := dial(t, o)
	var reqs []imapconn.AppendReq
	for i, size := range []int{100, 8 << 10, 300 << 10} {
		reqs = append(reqs, imapconn.AppendReq{Body: msg(fmt.Sprint("m", i), strings.Repeat("x", size)+"\r\n")})
	}
	var uids []int
	err = within(t, 20*time.Second, func() error {
		return c.AppendBatch(context.Background(), "INBOX", reqs, func(i int, res imapconn.AppendResult) error {
			uids = append(uids, int(res.UID))
			return nil
		})
	})
	close(got)
	var seen []string
	for s := range got {
		seen = append(seen, s)
	}
	if err != nil || len(uids) != 3 {
		t.Fatalf("append: %v (UIDs %v); the server saw %q", err, uids, seen)
	}
	for _, s := range seen {
		if strings.HasPrefix(s, "synchronizing") {
			t.Fatalf("the server saw %q", seen)
		}
	}
}
