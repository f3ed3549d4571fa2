package imapconn_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// chatUntil writes line every interval until quit or the client hangs
// up.
func chatUntil(w *bufio.Writer, line string, interval time.Duration, quit <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := w.WriteString(line + "\r\n"); err != nil {
			return
		}
		if w.Flush() != nil {
			return
		}
		select {
		case <-quit:
			return
		case <-tick.C:
		}
	}
}

// TestHostileChatty (issue 9: every wait on the server is bounded): a
// server that answers a command with nothing but untagged lines a server
// may send at any time, every 100 ms, forever, fails the call with a
// clear error within a bounded time, as a silent server does; before,
// each line restarted the timeout and the call never ended.
func TestHostileChatty(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"ok", "* OK still here"},
		{"exists", "* 1 EXISTS"},
		{"mixed case bye-less no", "* no [ALERT] wait"},
		{"flags", `* FLAGS (\Seen)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var quit <-chan struct{}
			o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
				if cmd == "SELECT" {
					chatUntil(w, tc.line, 100*time.Millisecond, quit)
					return false
				}
				return true
			})
			quit = stallUntilCleanup(t)
			o.Timeout = 500 * time.Millisecond
			c := dial(t, o)
			start := time.Now()
			err := within(t, 10*time.Second, func() error { _, err := c.Select(context.Background(), "INBOX", false); return err })
			took := time.Since(start)
			t.Logf("after %s: %v", took.Round(time.Millisecond), err)
			if err == nil || !strings.Contains(err.Error(), "sent only untagged status lines, no answer, for 500ms") || !strings.Contains(err.Error(), `select "INBOX"`) {
				t.Errorf("err = %v, want a timeout saying the server only chatted", err)
			}
			if took > 3*time.Second {
				t.Errorf("took %s, want about the 500ms timeout", took)
			}
			if _, err := c.Select(context.Background(), "INBOX", false); err == nil {
				t.Error("select after a stall succeeded")
			}
		})
	}
}

// TestSlowAnswerIsNotAStall: a server that answers slowly but steadily
// (one FETCH line every 100 ms for 1.5 s, with a 500 ms timeout) is not
// taken for a stalled one: data responses are progress.
func TestSlowAnswerIsNotAStall(t *testing.T) {
	t.Parallel()
	const n = 15
	o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
		switch {
		case cmd == "SELECT":
			fmt.Fprintf(w, "* FLAGS (\\Seen)\r\n* %d EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT %d] n\r\n%s OK [READ-WRITE] selected\r\n", n, n+1, tag)
		case cmd == "NOOP":
			fmt.Fprintf(w, "%s OK noop\r\n", tag)
		case cmd == "UID" && strings.HasPrefix(strings.ToUpper(args), "FETCH"):
			for i := 1; i <= n; i++ {
				fmt.Fprintf(w, "* OK working\r\n* %d FETCH (UID %d FLAGS () RFC822.SIZE 10)\r\n", i, i)
				w.Flush()
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Fprintf(w, "%s OK fetched\r\n", tag)
		}
		return true
	})
	o.Timeout = 500 * time.Millisecond
	c := dial(t, o)
	if _, err := c.Select(context.Background(), "INBOX", false); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.ListMessages(context.Background(), 0)
	if err != nil || len(msgs) != n {
		t.Fatalf("listed %d messages: %v", len(msgs), err)
	}
}
