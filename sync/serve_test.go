package sync

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/serve"
)

// startServe serves root on a loopback port until the test ends.
func startServe(t *testing.T, root string) *net.TCPAddr {
	t.Helper()
	srv, err := serve.New(serve.Options{Maildir: root, User: "u", Password: "p", AllowInsecureAuth: true,
		PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr)
}

func accountFor(addr *net.TCPAddr, dir string) Account {
	return Account{Name: "served",
		IMAP:      imapconn.Options{Host: addr.IP.String(), Port: addr.Port, TLS: "none", User: "u", Password: "p", DialTimeout: 5 * time.Second},
		Maildir:   filepath.Join(dir, "copy"),
		StatePath: filepath.Join(dir, "state.db"),
	}
}

// files maps folder/key to (flags, bytes) for every message of a Maildir.
func files(t *testing.T, root string) map[string]string {
	t.Helper()
	md, err := maildir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	names, err := md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		f, _ := md.Folder(n)
		entries, err := f.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			data, _, err := f.ReadFile(en.Key)
			if err != nil {
				t.Fatal(err)
			}
			out[n+"\x00"+en.Flags.String()+"\x00"+string(data)] += "x"
		}
	}
	return out
}

// TestSyncAgainstServeRoundTrip: a Maildir served by mailsync serve and
// synced into another Maildir by mailsync sync comes out byte for byte,
// both ways.
func TestSyncAgainstServeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	md, _ := maildir.Open(archive)
	for i, folder := range []string{"INBOX", "Sent", "Archive/2023", "Reisen/Zürich", "INBOX"} {
		f, err := md.CreateFolder(folder)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.DeliverSync(testMsg(folder), model.Flags(i*7)&model.AllFlags, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	inbox, _ := md.Folder(model.Inbox)
	// Bytes a careless tool would change: a lone CR, no final newline, 8-bit.
	if _, err := inbox.DeliverSync([]byte("Subject: raw\n\nlone\rCR, caf\xe9 latin-1, no final newline"), model.FlagSeen, time.Now()); err != nil {
		t.Fatal(err)
	}
	addr := startServe(t, archive)
	acct := accountFor(addr, dir)
	ctx := context.Background()
	if _, err := Run(ctx, acct, Options{}); err != nil {
		t.Fatal(err)
	}
	want, got := files(t, archive), files(t, acct.Maildir)
	if len(want) != len(got) {
		t.Fatalf("%d messages served, %d synced", len(want), len(got))
	}
	for k := range want {
		if want[k] != got[k] {
			t.Fatalf("message differs or is missing after the round trip: %q", k[:min(len(k), 120)])
		}
	}
	// Back the other way: a new local message and a flag change.
	cp, _ := maildir.Open(acct.Maildir)
	cinbox, _ := cp.Folder(model.Inbox)
	if _, err := cinbox.DeliverSync([]byte("Subject: from the copy\n\nback\rto the archive\n"), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(ctx, acct, Options{})
	if err != nil || sum.Uploaded != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	want, got = files(t, archive), files(t, acct.Maildir)
	for k := range got {
		if want[k] != got[k] {
			t.Fatalf("message differs after the upload: %q", k[:min(len(k), 120)])
		}
	}
	rep, err := Verify(ctx, acct, VerifyOptions{})
	if err != nil || len(rep.Differences) != 0 {
		t.Fatalf("verify: %v %v", err, rep.Differences)
	}
}

// TestSyncIntoServedMaildir: sync writes into the Maildir that serve
// publishes while a client is connected; the client sees the new mail,
// UIDs are never reused.
func TestSyncIntoServedMaildir(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 5; i++ {
		fx.srv.Save(t, "INBOX", testMsg("first wave"))
	}
	fx.sync(t)
	addr := startServe(t, fx.acct.Maildir)
	c, err := imapclient.DialInsecure(addr.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 5 {
		t.Fatalf("client sees %d messages, want 5", sel.NumMessages)
	}
	firstUIDs := uidsOf(t, c)
	for i := 0; i < 20; i++ {
		fx.srv.Save(t, "INBOX", testMsg("second wave"))
	}
	// The client keeps polling while sync writes.
	stop := make(chan struct{})
	polled := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				polled <- nil
				return
			default:
			}
			if err := c.Noop().Wait(); err != nil {
				polled <- err
				return
			}
		}
	}()
	fx.sync(t)
	close(stop)
	if err := <-polled; err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if n := c.Mailbox().NumMessages; n != 25 {
		t.Fatalf("client sees %d messages after the sync, want 25", n)
	}
	all := uidsOf(t, c)
	seen := map[imap.UID]bool{}
	for _, u := range all {
		if seen[u] {
			t.Fatalf("UID %d twice", u)
		}
		seen[u] = true
	}
	for i, u := range firstUIDs {
		if all[i] != u {
			t.Fatalf("old UID %d changed to %d", u, all[i])
		}
	}
	// Every message the client fetches is the file, byte for byte.
	bufs, err := c.Fetch(imap.UIDSetNum(all...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}, UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	server := fx.srv.Messages(t, "INBOX")
	var want, got [][]byte
	for _, m := range server {
		want = append(want, m.Body)
	}
	for _, b := range bufs {
		for _, s := range b.BodySection {
			got = append(got, s.Bytes)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("fetched %d bodies, want %d", len(got), len(want))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if bytes.Equal(g, w) {
				found = true
			}
		}
		if !found {
			t.Fatalf("a served message differs from the original on Dovecot")
		}
	}
}

func uidsOf(t *testing.T, c *imapclient.Client) []imap.UID {
	t.Helper()
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data.AllUIDs()
}
