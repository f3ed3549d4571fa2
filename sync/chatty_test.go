package sync

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
)

// TestChattyServerRunEnds (issue 9: a stall fails the run and releases
// the lock): a server that answers SELECT with "* OK still here" every
// 100 ms forever, which used to restart the timeout with every line,
// makes a sync fail on its own with an error naming the folder, and the
// next run is not locked out.
func TestChattyServerRunEnds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit); l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go chatAtSelect(conn, quit)
		}
	}()
	dir := t.TempDir()
	acct := Account{
		Name: "chatty",
		IMAP: imapconn.Options{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none", User: "u", Password: "p",
			Timeout: time.Second},
		Maildir:     filepath.Join(dir, "Mail"),
		StatePath:   filepath.Join(dir, "state", "chatty.db"),
		Connections: 1,
	}
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		sum, err := Run(ctx, acct, Options{})
		cancel()
		took := time.Since(start)
		var msgs string
		if sum != nil {
			msgs = strings.Join(sum.Errors, "\n")
		}
		t.Logf("run %d after %s: %v\n%s", i, took.Round(time.Millisecond), err, msgs)
		if err == nil || strings.Contains(err.Error(), "in use") {
			t.Errorf("run %d: err = %v, want a failed run", i, err)
		}
		if !strings.Contains(msgs, "sent only untagged status lines") || !strings.Contains(msgs, "INBOX") {
			t.Errorf("run %d: errors %q, want the chatty stall of INBOX", i, msgs)
		}
		if took > 30*time.Second {
			t.Errorf("run %d took %s", i, took)
		}
	}
}

// chatAtSelect is a server that logs anyone in, lists INBOX and answers
// SELECT with chatter until quit.
func chatAtSelect(conn net.Conn, quit <-chan struct{}) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprintf(conn, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] chatty server\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		tag, cmd := f[0], strings.ToUpper(f[1])
		switch cmd {
		case "AUTHENTICATE", "LOGIN":
			fmt.Fprintf(conn, "%s OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n", tag)
		case "CAPABILITY":
			fmt.Fprintf(conn, "* CAPABILITY IMAP4rev1 UIDPLUS\r\n%s OK done\r\n", tag)
		case "LIST":
			fmt.Fprintf(conn, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
		case "SELECT", "EXAMINE", "STATUS":
			for {
				if _, err := fmt.Fprintf(conn, "* OK still here\r\n"); err != nil {
					return
				}
				select {
				case <-quit:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		case "LOGOUT":
			fmt.Fprintf(conn, "* BYE\r\n%s OK bye\r\n", tag)
			return
		default:
			fmt.Fprintf(conn, "%s OK done\r\n", tag)
		}
	}
}
