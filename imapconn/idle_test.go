package imapconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
)

func TestStatus(t *testing.T) {
	s := dovecottest.Start(t, &dovecottest.Options{Separator: "."})
	s.CreateMailbox(t, "A/B")
	s.Save(t, "A/B", msg("one", "x"))
	c := dial(t, opts(s))
	selectF(t, c, "INBOX") // Status works with another folder selected
	st, err := c.Status(context.Background(), "A/B")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 1 || st.UIDNext != 2 || st.UIDValidity != s.UIDValidity(t, "A/B") || st.HighestModSeq == 0 {
		t.Fatalf("status %+v", st)
	}
	if _, err := c.Status(context.Background(), "Nope"); err == nil || imapconn.IsRetryable(err) {
		t.Fatalf("status of a missing folder: %v", err)
	}
}

// Idle reports a new message, a flag change and an expunge by another
// client, ends with ctx's error when cancelled, and with a retryable
// error when the server drops the connection.
func TestIdle(t *testing.T) {
	s := dovecottest.Start(t, nil)
	s.Save(t, "INBOX", msg("one", "x"))
	c := dial(t, opts(s))
	events := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Idle(ctx, "INBOX", 0, func() { events <- struct{}{} }) }()
	time.Sleep(300 * time.Millisecond)
	expect := func(what string) {
		t.Helper()
		select {
		case <-events:
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %s", what)
		}
		for len(events) > 0 {
			<-events
		}
	}
	s.Save(t, "INBOX", msg("two", "y"))
	expect("a new message")
	s.AddFlags(t, "INBOX", 1, `\Flagged`)
	expect("a flag change")
	s.Expunge(t, "INBOX", 2)
	expect("an expunge")
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Idle did not return within 2 s of cancel")
	}
	t.Logf("Idle returned %s after cancel", time.Since(start))

	c2 := dial(t, opts(s))
	go func() { done <- c2.Idle(context.Background(), "INBOX", 0, func() {}) }()
	time.Sleep(300 * time.Millisecond)
	s.KickConnections(t)
	select {
	case err := <-done:
		if !imapconn.IsRetryable(err) {
			t.Fatalf("after a kick: %v (want a retryable error)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Idle did not return after the server dropped the connection")
	}
}

// IDLE is ended and restarted every restart interval without missing a
// change.
func TestIdleRestart(t *testing.T) {
	s := dovecottest.Start(t, nil)
	o := opts(s)
	trace := &syncBuffer{}
	o.DebugWriter = trace
	c := dial(t, o)
	events := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Idle(ctx, "INBOX", 100*time.Millisecond, func() { events <- struct{}{} }) }()
	time.Sleep(time.Second) // several restarts
	s.Save(t, "INBOX", msg("after restarts", "z"))
	select {
	case <-events:
	case err := <-done:
		t.Fatalf("Idle ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no event after IDLE restarts")
	}
	if n := strings.Count(trace.String(), "C: DONE"); n < 3 {
		t.Fatalf("IDLE restarted %d times in a second, want several:\n%s", n, trace.String())
	}
}

// A failed Dial's nil *Conn, kept in an interface by a caller, closes
// without a panic (the engine's workers close what dial returned when a
// watcher is cancelled mid-dial).
func TestNilConnClose(t *testing.T) {
	var c interface{ Close() error } = (*imapconn.Conn)(nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var nc *imapconn.Conn
	if _, err := nc.Select(context.Background(), "INBOX", true); !imapconn.IsRetryable(err) {
		t.Fatalf("select on a nil *Conn: %v (want a retryable error, not a panic)", err)
	}
}
