package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// blindConn is a real connection that learns no UID from APPEND and
// whose fingerprints never match: the worst case for finding an upload
// again, as with a server that rewrites messages and lacks UIDPLUS.
type blindConn struct{ *imapconn.Conn }

func (c blindConn) AppendBatch(ctx context.Context, folder string, reqs []imapconn.AppendReq, done func(int, imapconn.AppendResult) error) error {
	return c.Conn.AppendBatch(ctx, folder, reqs, func(i int, _ imapconn.AppendResult) error {
		return done(i, imapconn.AppendResult{})
	})
}

// FindByMessageID finds nothing: as a server whose copy lost its
// Message-ID, or that cannot search headers.
func (c blindConn) FindByMessageID(context.Context, string, model.UID) ([]model.UID, error) {
	return nil, nil
}

func (c blindConn) Fingerprints(ctx context.Context, uids []model.UID) (map[model.UID]string, error) {
	fps, err := c.Conn.Fingerprints(ctx, uids)
	for uid := range fps {
		fps[uid] = "rewritten"
	}
	return fps, err
}

// TestUnfindableUploadIsNotRepeated: when an uploaded message cannot be
// found again, the run does not upload it a second time.
func TestUnfindableUploadIsNotRepeated(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.intents = true // the unfindable upload keeps its intent by design
	fx.sync(t)
	fx.deliver(t, "INBOX", testMsg("unfindable"), 0)
	sum, err := run(context.Background(), fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		return blindConn{c}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 1 || sum.Uploaded != 1 {
		t.Fatalf("%d copies on the server, %d uploads; want 1 and 1 (%+v)", n, sum.Uploaded, sum)
	}
	// The server's copy cannot be told from a new message, so it comes
	// back as a second local file: bounded, unlike uploading again each
	// pass. (Servers with UIDPLUS, or that store messages as sent, never
	// get here: see TestWithoutUIDPlusOrCondStore.)
	if sum.Downloaded != 1 {
		t.Fatalf("downloaded %d", sum.Downloaded)
	}
	if len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], "rather than being uploaded twice") {
		t.Fatalf("warnings %q", sum.Warnings)
	}
}

// TestInvalidFolderNameFromServer: a server that lists a name that is not
// valid modified UTF-7 (go-imap drops the connection on one) costs that
// folder only; the others sync.
func TestInvalidFolderNameFromServer(t *testing.T) {
	fx := newFixture(t, nil)
	proxy := dovecottest.NewProxy(t, fx.srv.Addr)
	fx.acct.IMAP.Host, fx.acct.IMAP.Port = proxy.Host, proxy.Port
	fx.srv.Save(t, "INBOX", testMsg("fine"))
	fx.srv.Save(t, "Zürich", testMsg("unreachable"))
	fx.srv.Save(t, "Archive", testMsg("fine too"))
	proxy.Rewrite([]byte("Z&APw-rich"), []byte("Z&APw!rich"))
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatalf("%v %+v", err, sum)
	}
	if sum.Downloaded != 2 || len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], "Z&APw!rich") {
		t.Fatalf("summary %+v", sum)
	}
}
