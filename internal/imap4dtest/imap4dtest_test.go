package imap4dtest

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

// The fixture starts a real imap4d that takes a login, creates a folder
// and stores a message, and lacks the capabilities the tests rely on it
// lacking.
func TestStart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	defer c.Close()
	caps := c.Caps()
	for _, cap := range []imap.Cap{imap.CapUIDPlus, imap.CapCondStore} {
		if caps.Has(cap) {
			t.Errorf("imap4d advertises %s; the tests use it as a server without", cap)
		}
	}
	msg0 := "Subject: inbox\r\n\r\nx\r\n"
	ap := c.Append("INBOX", int64(len(msg0)), nil)
	ap.Write([]byte(msg0))
	ap.Close()
	if _, err := ap.Wait(); err != nil {
		t.Fatalf("APPEND to INBOX: %v", err)
	}
	if err := c.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msg := "Subject: hi\r\n\r\nbody\r\n"
	cmd := c.Append("Work", int64(len(msg)), nil)
	cmd.Write([]byte(msg))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("Work", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumMessages == nil || *st.NumMessages != 1 {
		t.Fatalf("STATUS Work: %v messages, want 1", st.NumMessages)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range list {
		names[l.Mailbox] = true
	}
	if !names["INBOX"] || !names["Work"] {
		t.Fatalf("LIST: %v, want INBOX and Work", names)
	}
}
