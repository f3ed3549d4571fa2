package imapconn_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/model"
)

// Unkept follows the selected folder's PERMANENTFLAGS: Dovecot keeps
// every flag (`\*`), GNU Mailutils cannot keep $Forwarded.
func TestUnkeptFromPermanentFlags(t *testing.T) {
	t.Parallel()
	d := dovecottest.Start(t, nil)
	c := dial(t, opts(d))
	selectF(t, c, "INBOX")
	if u := c.Unkept(); u != 0 {
		t.Errorf("dovecot: unkept %v, want none", u)
	}
	m := imap4dtest.Start(t)
	c = dial(t, imapconn.Options{Host: m.Host, Port: m.Port, TLS: "none", User: m.User, Password: m.Password, DialTimeout: 5 * time.Second})
	selectF(t, c, "INBOX")
	if u := c.Unkept(); u&model.FlagPassed == 0 {
		t.Errorf("imap4d: unkept %v, want P among them", u)
	}
}

// FindByMessageID finds an appended message from a UID on, and only
// from there.
func TestFindByMessageID(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, &dovecottest.Options{NoUIDPlus: true})
	c := dial(t, opts(s))
	ctx := context.Background()
	for _, sub := range []string{"one", "two", "one"} {
		if _, err := c.Append(ctx, "INBOX", imapconn.AppendReq{Body: msg(sub, "x\r\n")}); err != nil {
			t.Fatal(err)
		}
	}
	selectF(t, c, "INBOX")
	for _, tt := range []struct {
		id   string
		min  model.UID
		want []model.UID
	}{
		{"<one@example.org>", 1, []model.UID{1, 3}},
		{"<one@example.org>", 2, []model.UID{3}},
		{"<two@example.org>", 3, nil},
		{"<three@example.org>", 1, nil},
		{"<one@example.org>", 9, nil}, // 9:* is 3:9: not from 9 on
	} {
		got, err := c.FindByMessageID(ctx, tt.id, tt.min)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s from %d: got %v, want %v", tt.id, tt.min, got, tt.want)
		}
	}
}
