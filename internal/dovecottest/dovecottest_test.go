package dovecottest

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSaveAndReadBack(t *testing.T) {
	t.Parallel()
	s := Start(t, nil)
	msg := []byte("From: a@example.org\r\nSubject: h\xe9llo\r\n\r\nline one\r\nlone\rCR and 8-bit \xff\r\n")
	s.Save(t, "Archiv/Größe", msg)
	s.Save(t, "INBOX", msg)

	got := s.Messages(t, "Archiv/Größe")
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1", len(got))
	}
	if !bytes.Equal(got[0].Body, msg) {
		t.Errorf("body:\n got %q\nwant %q", got[0].Body, msg)
	}
	if got[0].UID != 1 || len(got[0].Flags) != 0 {
		t.Errorf("uid %d flags %v, want 1 and none", got[0].UID, got[0].Flags)
	}

	s.SetFlags(t, "INBOX", 1, `\Seen`, `\Flagged`)
	s.RemoveFlags(t, "INBOX", 1, `\Flagged`)
	s.AddFlags(t, "INBOX", 1, `\Answered`)
	got = s.Messages(t, "INBOX")
	if strings.Join(got[0].Flags, " ") != `\Answered \Seen` {
		t.Errorf("flags %v, want \\Answered \\Seen", got[0].Flags)
	}
	s.Expunge(t, "INBOX", 1)
	if got := s.Messages(t, "INBOX"); len(got) != 0 {
		t.Errorf("after expunge: %d messages", len(got))
	}

	if s.UIDValidity(t, "INBOX") == 0 {
		t.Error("uidvalidity 0")
	}
	s.RenameMailbox(t, "Archiv/Größe", "Other")
	mbs := strings.Join(s.Mailboxes(t), ",")
	if !strings.Contains(mbs, "Other") || strings.Contains(mbs, "Größe") {
		t.Errorf("mailboxes after rename: %s", mbs)
	}
	s.DeleteMailbox(t, "Other")
}

func TestSeparatorAndCaps(t *testing.T) {
	t.Parallel()
	s := Start(t, &Options{Separator: ".", NoCondStore: true, NoUIDPlus: true})
	s.Save(t, "A/B", []byte("Subject: x\r\n\r\nx\r\n"))
	if got := s.Messages(t, "A/B"); len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	c := s.Client(t)
	defer c.Close()
	caps := c.Caps()
	if caps.Has("UIDPLUS") || caps.Has("CONDSTORE") {
		t.Errorf("caps still advertise UIDPLUS/CONDSTORE: %v", caps)
	}
	if !caps.Has("MOVE") {
		t.Errorf("caps lost MOVE: %v", caps)
	}
}

func TestProxyCut(t *testing.T) {
	t.Parallel()
	s := Start(t, nil)
	p := NewProxy(t, s.Addr)
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("* OK")) {
		t.Fatalf("greeting %q %v", buf[:n], err)
	}
	p.CutAfter([]byte("a1 OK"))
	c.Write([]byte("a1 NOOP\r\n"))
	n, _ = c.Read(buf)
	if bytes.Contains(buf[:n], []byte("a1 OK")) {
		t.Fatalf("saw %q through a cut proxy", buf[:n])
	}
	if p.Cuts() != 1 {
		t.Errorf("cuts = %d", p.Cuts())
	}
}
