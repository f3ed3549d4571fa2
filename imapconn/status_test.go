package imapconn_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// TestStatuses: one pipelined call gives every folder's status, equal to
// what SELECT tells; a folder that does not exist is left out; a flag
// change moves HIGHESTMODSEQ, which is how the engine sees that a folder
// changed without selecting it.
func TestStatuses(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	ctx := context.Background()
	s.CreateMailbox(t, "Empty")
	for i := range 3 {
		s.Save(t, "INBOX", msg(fmt.Sprint("m", i), "body\r\n"))
	}
	c := dial(t, opts(s))
	got, err := c.Statuses(ctx, []string{"INBOX", "Empty", "Missing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["Missing"]; ok || len(got) != 2 {
		t.Fatalf("statuses %+v", got)
	}
	for _, name := range []string{"INBOX", "Empty"} {
		st := got[name]
		sel := selectF(t, c, name)
		sel.Unkept = 0
		if st != sel {
			t.Errorf("%s: STATUS %+v, SELECT %+v", name, st, sel)
		}
		if st.HighestModSeq == 0 || st.UIDValidity == 0 {
			t.Errorf("%s: %+v", name, st)
		}
	}
	if got["INBOX"].Messages != 3 || got["INBOX"].UIDNext != 4 {
		t.Errorf("INBOX %+v", got["INBOX"])
	}
	s.AddFlags(t, "INBOX", 2, `\Flagged`)
	c2 := dial(t, opts(s))
	again, err := c2.Statuses(ctx, []string{"INBOX"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again["INBOX"].HighestModSeq <= got["INBOX"].HighestModSeq {
		t.Errorf("a flag change did not move HIGHESTMODSEQ: %d then %d", got["INBOX"].HighestModSeq, again["INBOX"].HighestModSeq)
	}

	nc := dovecottest.Start(t, &dovecottest.Options{NoCondStore: true})
	nc.Save(t, "INBOX", msg("a", "x\r\n"))
	c3 := dial(t, opts(nc))
	st, err := c3.Statuses(ctx, []string{"INBOX"}, nil)
	if err != nil || st["INBOX"].HighestModSeq != 0 || st["INBOX"].Messages != 1 {
		t.Errorf("without CONDSTORE: %+v %v", st, err)
	}
}
