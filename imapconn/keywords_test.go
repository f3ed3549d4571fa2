package imapconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/model"
)

// Keywords travel in APPEND, STORE, the listing and FetchBodies.
func TestKeywords(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	ctx := context.Background()
	c := dial(t, opts(s))
	if _, err := c.Append(ctx, "INBOX", imapconn.AppendReq{Flags: model.FlagSeen, Keywords: model.NewKeywords("$Label1", "Important"), Body: msg("k1", "x\r\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "INBOX", imapconn.AppendReq{Body: msg("k2", "x\r\n")}); err != nil {
		t.Fatal(err)
	}
	selectF(t, c, "INBOX")
	if r := c.KeywordRule(); !r.Keeps("$Anything") {
		t.Errorf("dovecot keeps every keyword (\\* in PERMANENTFLAGS): %+v", r)
	}
	if err := c.StoreKeywords(ctx, []model.UID{1, 2}, true, model.Keywords{"$Junk"}); err != nil {
		t.Fatal(err)
	}
	if err := c.StoreKeywords(ctx, []model.UID{1}, false, model.Keywords{"Important"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.ListMessages(ctx, 0)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("listing %+v %v", msgs, err)
	}
	if !msgs[0].Keywords.Equal(model.NewKeywords("$Junk", "$Label1")) || msgs[0].Flags != model.FlagSeen || !msgs[1].Keywords.Equal(model.Keywords{"$Junk"}) {
		t.Errorf("listing %+v", msgs)
	}
	err = c.FetchBodies(ctx, []model.UID{1}, func(m model.Message) error {
		if !m.Keywords.Equal(model.NewKeywords("$Junk", "$Label1")) {
			t.Errorf("fetched keywords %v", m.Keywords)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m := imap4dtest.Start(t)
	c = dial(t, imapconn.Options{Host: m.Host, Port: m.Port, TLS: "none", User: m.User, Password: m.Password, DialTimeout: 5 * time.Second})
	selectF(t, c, "INBOX")
	if r := c.KeywordRule(); r.Keeps("$Junk") {
		t.Errorf("imap4d (no \\* in PERMANENTFLAGS) keeps $Junk: %+v", r)
	}
}
