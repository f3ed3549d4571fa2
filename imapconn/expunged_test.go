package imapconn_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/model"
)

// GNU Mailutils imap4d answers a plain EXPUNGE with "* n EXPUNGED",
// which go-imap's client cannot parse: the connection broke in the
// middle of a sync (MAILSYNC_SEED=1795438297230100799 of the randomized
// test). Without UIDPLUS, Expunge must leave the connection usable and
// the folder selected.
func TestExpungeWithoutUIDPlusOnImap4d(t *testing.T) {
	t.Parallel()
	m := imap4dtest.Start(t)
	c := dial(t, imapconn.Options{Host: m.Host, Port: m.Port, TLS: "none", User: m.User, Password: m.Password, DialTimeout: 5 * time.Second})
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		if _, err := c.Append(ctx, "INBOX", imapconn.AppendReq{Body: msg(fmt.Sprint("expunged ", i), "x\r\n")}); err != nil {
			t.Fatal(err)
		}
	}
	st := selectF(t, c, "INBOX")
	if err := c.Expunge(ctx, []model.UID{1, 3}); err != nil {
		t.Fatalf("expunge on imap4d: %v", err)
	}
	uids, err := c.UIDs(ctx)
	if err != nil {
		t.Fatalf("the connection is not usable after the expunge: %v", err)
	}
	if !slices.Equal(uids, []model.UID{2, 4}) {
		t.Fatalf("UIDs after expunging 1 and 3: %v, want [2 4]", uids)
	}
	again, err := c.Select(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if again.UIDValidity != st.UIDValidity {
		t.Errorf("UIDVALIDITY changed from %d to %d", st.UIDValidity, again.UIDValidity)
	}
}
