package serve

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

// mailsync's own IMAP layer (what sync uses) sees CONDSTORE on serve and
// gets only the changed messages with CHANGEDSINCE: sync's fast path.
// HIGHESTMODSEQ survives a restart unchanged when nothing changed (so
// sync skips the folder), and grows when a file changed while serve was
// not running.
func TestCondStoreFastPathForSync(t *testing.T) {
	e := newEnv(t, nil)
	var keys []string
	for i := 0; i < 5; i++ {
		keys = append(keys, e.deliver("INBOX", plainMsg, 0, time.Now()).Key)
	}
	ctx := context.Background()
	dial := func() *imapconn.Conn {
		host, port, _ := net.SplitHostPort(e.addr)
		p, _ := strconv.Atoi(port)
		c, err := imapconn.Dial(ctx, imapconn.Options{Host: host, Port: p, TLS: "none", User: testUser, Password: testPass})
		must(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	if !c.Caps().CondStore {
		t.Fatal("imapconn sees no CONDSTORE on serve")
	}
	st, err := c.Select(ctx, "INBOX", false)
	must(t, err)
	if st.HighestModSeq == 0 {
		t.Fatal("SELECT gave no HIGHESTMODSEQ")
	}
	h := st.HighestModSeq
	changed, err := c.ListMessages(ctx, h)
	must(t, err)
	if len(changed) != 0 {
		t.Errorf("CHANGEDSINCE HIGHESTMODSEQ listed %d messages", len(changed))
	}
	// Another program (mutt, sync) flags a message in the Maildir.
	f := e.folder("INBOX")
	_, err = f.SetFlags(keys[2], model.FlagFlagged)
	must(t, err)
	changed, err = c.ListMessages(ctx, h)
	must(t, err)
	if len(changed) != 1 || changed[0].UID != 3 || changed[0].Flags != model.FlagFlagged {
		t.Fatalf("CHANGEDSINCE %d: %+v, want UID 3 \\Flagged only", h, changed)
	}
	c.Close()

	c = dial()
	st, err = c.Select(ctx, "INBOX", true)
	must(t, err)
	h2 := st.HighestModSeq
	if h2 <= h {
		t.Fatalf("HIGHESTMODSEQ %d after a change, was %d", h2, h)
	}
	c.Close()
	e.restart()
	c = dial()
	st, err = c.Select(ctx, "INBOX", true)
	must(t, err)
	if st.HighestModSeq != h2 {
		t.Errorf("HIGHESTMODSEQ %d after a restart without changes, was %d", st.HighestModSeq, h2)
	}
	c.Close()

	// Changed while serve is down: a new MODSEQ after the restart.
	e.stop()
	_, err = f.SetFlags(keys[4], model.FlagSeen)
	must(t, err)
	e.start()
	c = dial()
	st, err = c.Select(ctx, "INBOX", true)
	must(t, err)
	if st.HighestModSeq <= h2 {
		t.Errorf("HIGHESTMODSEQ %d after an offline change, was %d", st.HighestModSeq, h2)
	}
	changed, err = c.ListMessages(ctx, h2)
	must(t, err)
	if len(changed) != 1 || changed[0].UID != 5 {
		t.Errorf("CHANGEDSINCE %d after the restart: %+v, want UID 5 only", h2, changed)
	}
}
