package imapconn_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
)

// TestAppendWithLiteralPlusSendsNoWait: against a server with LITERAL+
// (RFC 7888), every APPEND's message goes out as a non-synchronizing
// literal ({n+}), big ones too, without waiting for the server's "+"
// continuation: a round trip per message otherwise (go-imap beta.8
// waited for every literal over 4 KiB; vendored patch 12). The server
// here never sends a continuation: a client that waits for one fails.
func TestAppendWithLiteralPlusSendsNoWait(t *testing.T) {
	var mu sync.Mutex // seen is written by the server's goroutine
	var seen []string
	uid := 10
	o := hostile(t, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", func(w *bufio.Writer, tag, cmd, args string) bool {
		mu.Lock()
		defer mu.Unlock()
		switch cmd {
		case "LOGIN", "AUTHENTICATE":
			fmt.Fprintf(w, "%s OK [CAPABILITY IMAP4rev1 UIDPLUS LITERAL+] logged in\r\n", tag)
		case "LIST":
			fmt.Fprintf(w, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
		case "APPEND":
			if !strings.Contains(args, "+}\r\n") {
				seen = append(seen, "synchronizing literal: "+args)
				return false // never answers: the client waits for "+"
			}
			uid++
			seen = append(seen, fmt.Sprintf("%d bytes", len(args)))
			fmt.Fprintf(w, "%s OK [APPENDUID 1 %d] stored\r\n", tag, uid)
		case "CAPABILITY", "LOGOUT":
		default:
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		}
		return true
	})
	o.Timeout = 3 * time.Second
	c := dial(t, o)
	var reqs []imapconn.AppendReq
	for i, size := range []int{100, 8 << 10, 300 << 10} {
		reqs = append(reqs, imapconn.AppendReq{Body: msg(fmt.Sprint("m", i), strings.Repeat("x", size)+"\r\n")})
	}
	var uids []int
	err := within(t, 20*time.Second, func() error {
		return c.AppendBatch(context.Background(), "INBOX", reqs, func(i int, res imapconn.AppendResult) error {
			uids = append(uids, int(res.UID))
			return nil
		})
	})
	if err != nil || len(uids) != 3 {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("append: %v (UIDs %v); the server saw %.80q", err, uids, seen)
	}
}
