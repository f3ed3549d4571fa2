package imapconn_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// appendScript is a hostile server script that logs in with the given
// capabilities after login, lists INBOX, and answers every APPEND with
// onAppend (args: the command's arguments, literals included), under mu.
func appendScript(mu *sync.Mutex, caps string, onAppend func(w *bufio.Writer, tag, args string)) script {
	return func(w *bufio.Writer, tag, cmd, args string) bool {
		mu.Lock()
		defer mu.Unlock()
		switch cmd {
		case "LOGIN", "AUTHENTICATE":
			fmt.Fprintf(w, "%s OK [CAPABILITY IMAP4rev1 %s] logged in\r\n", tag, caps)
		case "LIST":
			fmt.Fprintf(w, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
		case "APPEND":
			onAppend(w, tag, args)
		case "CAPABILITY", "LOGOUT":
		default:
			fmt.Fprintf(w, "%s OK done\r\n", tag)
		}
		return true
	}
}

// multiAppendReqs returns messages of the given sizes, as sync uploads
// them: read from a file-like reader through the CRLF conversion.
func multiAppendReqs(sizes ...int) (reqs []imapconn.AppendReq, bodies [][]byte) {
	for i, size := range sizes {
		stored := msg(fmt.Sprintf("multi%d", i), strings.Repeat("y", size)+"\n")
		stored = bytes.ReplaceAll(stored, []byte("\r\n"), []byte("\n"))
		body := model.ToCRLF(stored)
		bodies = append(bodies, body)
		reqs = append(reqs, imapconn.AppendReq{Flags: model.FlagSeen,
			Reader: model.NewCRLFReader(bytes.NewReader(stored)), Size: int64(len(body))})
	}
	return reqs, bodies
}

// TestMultiAppendSendsOneCommand: against a server with MULTIAPPEND (RFC
// 3502) and LITERAL+, a batch of uploads is one APPEND command carrying
// every message, and the UIDs of its APPENDUID uid-set go to the
// messages in the order they were sent (RFC 4315 section 3). Before it
// (go-imap beta.8 had no MULTIAPPEND, and its client failed on an
// APPENDUID with a uid-set) each message was its own APPEND: one server
// transaction each.
func TestMultiAppendSendsOneCommand(t *testing.T) {
	var mu sync.Mutex
	var appends []int // literals per APPEND command
	o := hostile(t, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", appendScript(&mu, "UIDPLUS LITERAL+ MULTIAPPEND", func(w *bufio.Writer, tag, args string) {
		n := strings.Count(args, "+}\r\n")
		appends = append(appends, n)
		first := 11 + 10*(len(appends)-1)
		if n == 1 {
			fmt.Fprintf(w, "%s OK [APPENDUID 7 %d] stored\r\n", tag, first)
		} else {
			fmt.Fprintf(w, "%s OK [APPENDUID 7 %d:%d] stored\r\n", tag, first, first+n-1)
		}
	}))
	c := dial(t, o)
	if !c.Caps().MultiAppend {
		t.Fatalf("caps %+v: MULTIAPPEND not seen", c.Caps())
	}
	reqs, _ := multiAppendReqs(100, 8<<10, 300<<10)
	var got []model.UID
	err := within(t, 20*time.Second, func() error {
		return c.AppendBatch(context.Background(), "INBOX", reqs, func(i int, res imapconn.AppendResult) error {
			if i != len(got) || res.UIDValidity != 7 {
				return fmt.Errorf("done(%d, %+v) out of order", i, res)
			}
			got = append(got, res.UID)
			return nil
		})
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil || fmt.Sprint(got) != "[11 12 13]" || fmt.Sprint(appends) != "[3]" {
		t.Fatalf("append: %v; UIDs %v, want [11 12 13]; literals per APPEND %v, want [3]", err, got, appends)
	}
	// One message alone is a plain APPEND.
	appends = nil
	mu.Unlock()
	res, err := c.Append(context.Background(), "INBOX", imapconn.AppendReq{Body: msg("alone", "z\r\n")})
	mu.Lock()
	if err != nil || res.UID != 11 || fmt.Sprint(appends) != "[1]" {
		t.Fatalf("single append: %v, %+v, literals %v", err, res, appends)
	}
}

// TestMultiAppendRefusedForOneMessage: a MULTIAPPEND the server refuses
// for what one message holds stores nothing (it is atomic); the batch is
// then sent again one APPEND per message, from the start of each
// message (the readers are rewound), so that the other messages are
// stored and confirmed (those sent before the refusal came back: the
// APPENDs are pipelined) and the refusal names the message, as without
// MULTIAPPEND.
func TestMultiAppendRefusedForOneMessage(t *testing.T) {
	var mu sync.Mutex
	var stored []string
	uid := 20
	o := hostile(t, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", appendScript(&mu, "UIDPLUS LITERAL+ MULTIAPPEND", func(w *bufio.Writer, tag, args string) {
		switch {
		case strings.Count(args, "+}\r\n") > 1 || strings.Contains(args, "multi1@"):
			fmt.Fprintf(w, "%s NO Message too large\r\n", tag)
		default:
			uid++
			// (The script's args lose the message's last line end.)
			stored = append(stored, args[strings.Index(args, "+}\r\n")+4:]+"\r\n")
			fmt.Fprintf(w, "%s OK [APPENDUID 7 %d] stored\r\n", tag, uid)
		}
	}))
	c := dial(t, o)
	reqs, bodies := multiAppendReqs(100, 200, 300)
	var got []string
	err := within(t, 20*time.Second, func() error {
		return c.AppendBatch(context.Background(), "INBOX", reqs, func(i int, res imapconn.AppendResult) error {
			got = append(got, fmt.Sprintf("%d:%d", i, res.UID))
			return nil
		})
	})
	var refused *imapconn.AppendRefusedError
	if !errors.As(err, &refused) || refused.Index != 1 {
		t.Fatalf("err = %v, want message 2 of 3 refused", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[0:21 2:22]" || len(stored) != 2 || stored[0] != string(bodies[0]) || stored[1] != string(bodies[2]) {
		t.Fatalf("confirmed %v, want [0:21 2:22]; the server stored %d messages, intact: %v", got, len(stored),
			len(stored) == 2 && stored[0] == string(bodies[0]) && stored[1] == string(bodies[2]))
	}
}

// TestMultiAppendDovecot: Dovecot offers MULTIAPPEND; a batch of
// messages of several sizes streamed from readers is stored as sent,
// and each message is told its own UID.
func TestMultiAppendDovecot(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	var trace bytes.Buffer
	o := opts(s)
	o.DebugWriter = &syncWriter{w: &trace}
	c := dial(t, o)
	if !c.Caps().MultiAppend {
		t.Fatalf("caps %+v: Dovecot's MULTIAPPEND not seen", c.Caps())
	}
	reqs, bodies := multiAppendReqs(10, 5000, 300<<10, 1<<10, 70<<10)
	uidOf := map[model.UID][]byte{}
	err := c.AppendBatch(context.Background(), "INBOX", reqs, func(i int, res imapconn.AppendResult) error {
		if res.UID == 0 {
			return fmt.Errorf("message %d: no UID", i)
		}
		uidOf[res.UID] = bodies[i]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(trace.String(), " APPEND "); n != 1 {
		t.Errorf("%d APPEND commands for a batch of 5, want 1", n)
	}
	got := s.Messages(t, "INBOX")
	if len(got) != len(bodies) || len(uidOf) != len(bodies) {
		t.Fatalf("server holds %d messages, %d UIDs told, want %d", len(got), len(uidOf), len(bodies))
	}
	for _, m := range got {
		if !bytes.Equal(m.Body, uidOf[model.UID(m.UID)]) {
			t.Errorf("UID %d holds %d bytes, not the message told that UID (%d bytes)", m.UID, len(m.Body), len(uidOf[model.UID(m.UID)]))
		}
		if fmt.Sprint(m.Flags) != `[\Seen]` {
			t.Errorf("UID %d flags %v", m.UID, m.Flags)
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
