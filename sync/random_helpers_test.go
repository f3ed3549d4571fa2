package sync

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/maildir"
)

// newImap4dFixture is a fixture whose server is GNU Mailutils imap4d
// (internal/imap4dtest): no UIDPLUS, no CONDSTORE, BAD to $Forwarded,
// \Seen dropped on APPEND. The server is changed over IMAP (testServer
// with no Dovecot behind it), as on the serve backend.
func newImap4dFixture(t *testing.T) *fixture {
	t.Helper()
	s := imap4dtest.Start(t)
	srv := &testServer{Host: s.Host, Port: s.Port, Addr: s.Addr, User: s.User, Password: s.Password}
	dir := t.TempDir()
	fx := &fixture{srv: srv, acct: Account{
		Name: "test",
		IMAP: imapconn.Options{Host: srv.Host, Port: srv.Port, TLS: "none", User: srv.User, Password: srv.Password,
			DialTimeout: 10 * time.Second},
		Maildir:     filepath.Join(dir, "Mail"),
		StatePath:   filepath.Join(dir, "state", "test.db"),
		Connections: 2,
	}}
	md, err := maildir.Open(fx.acct.Maildir)
	if err != nil {
		t.Fatal(err)
	}
	fx.md = md
	t.Cleanup(func() { fx.checkInvariants(t) })
	return fx
}
