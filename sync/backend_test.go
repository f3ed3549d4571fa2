package sync

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/serve"
)

// The scenario tests run against one of two IMAP servers, chosen by
// MAILSYNC_TEST_SERVER:
//
//	dovecot (or unset)  a real Dovecot per test (internal/dovecottest; needs
//	                    Dovecot installed and root)
//	serve               `mailsync serve` started in this process on a
//	                    loopback port over a Maildir in t.TempDir() (no
//	                    root, nothing installed)
//
// The tests change the server as another client would: on Dovecot with
// doveadm, on serve over IMAP with a second connection. A test that needs
// a Dovecot-only feature asks for it with requireDovecot.
const serverEnv = "MAILSYNC_TEST_SERVER"

func serveBackend() bool { return os.Getenv(serverEnv) == "serve" }

// testServer is the server of one scenario test.
type testServer struct {
	Host     string
	Port     int
	Addr     string // Host:Port
	User     string
	Password string
	dc       *dovecottest.Server // nil on the serve backend
}

// requireDovecot skips the test on the serve backend; why says which
// Dovecot-only feature it needs. The Dovecot run (the default, and CI's
// first run) still runs it.
func requireDovecot(t *testing.T, why string) {
	t.Helper()
	if serveBackend() {
		t.Skipf("needs Dovecot (%s); runs in the %s=dovecot suite", why, serverEnv)
	}
}

// startServer starts the test's server. Options other than the
// separator are client-side on the serve backend (imapconn's Disable*
// switches; serve has no CONDSTORE anyway).
func startServer(t *testing.T, opts *dovecottest.Options) *testServer {
	t.Helper()
	if !serveBackend() {
		dc := dovecottest.Start(t, opts)
		return &testServer{Host: dc.Host, Port: dc.Port, Addr: dc.Addr, User: dc.User, Password: dc.Password, dc: dc}
	}
	if opts != nil && opts.Separator != "" && opts.Separator != "/" {
		requireDovecot(t, "a server whose hierarchy separator is "+opts.Separator)
	}
	if opts != nil && opts.NamespacePrefix != "" {
		requireDovecot(t, "a server whose personal namespace prefix is "+opts.NamespacePrefix)
	}
	root := filepath.Join(t.TempDir(), "served")
	md, err := maildir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := md.CreateFolder(model.Inbox); err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Options{Maildir: root, User: "tester", Password: "secret", AllowInsecureAuth: true,
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
	a := ln.Addr().(*net.TCPAddr)
	return &testServer{Host: a.IP.String(), Port: a.Port, Addr: a.String(), User: "tester", Password: "secret"}
}

// client is a second, logged-in IMAP client; the caller closes it.
func (s *testServer) client(t testing.TB) *imapclient.Client {
	t.Helper()
	if s.dc != nil {
		return s.dc.Client(t)
	}
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		c.Close()
		t.Fatalf("login: %v", err)
	}
	return c
}

// selectFolder opens folder read-write on a new client.
func (s *testServer) selectFolder(t testing.TB, folder string) *imapclient.Client {
	t.Helper()
	c := s.client(t)
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		c.Close()
		t.Fatalf("select %q: %v", folder, err)
	}
	return c
}

// Save stores msg (LF line endings) in folder, creating the folder when
// needed, as a delivery would.
func (s *testServer) Save(t testing.TB, folder string, msg []byte) {
	t.Helper()
	if s.dc != nil {
		s.dc.Save(t, folder, msg)
		return
	}
	c := s.client(t)
	defer c.Close()
	if !contains("\x00"+strings.Join(s.Mailboxes(t), "\x00")+"\x00", "\x00"+folder+"\x00") {
		if err := c.Create(folder, nil).Wait(); err != nil {
			t.Fatalf("create %q: %v", folder, err)
		}
	}
	body := model.ToCRLF(msg)
	cmd := c.Append(folder, int64(len(body)), nil)
	if _, err := cmd.Write(body); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
}

func (s *testServer) store(t testing.TB, folder string, uid uint32, op imap.StoreFlagsOp, flags []string) {
	t.Helper()
	c := s.selectFolder(t, folder)
	defer c.Close()
	fl := make([]imap.Flag, len(flags))
	for i, f := range flags {
		fl[i] = imap.Flag(f)
	}
	if err := c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: op, Silent: true, Flags: fl}, nil).Close(); err != nil {
		t.Fatalf("store %v on %q uid %d: %v", flags, folder, uid, err)
	}
}

// AddFlags adds flags to message uid in folder.
func (s *testServer) AddFlags(t testing.TB, folder string, uid uint32, flags ...string) {
	t.Helper()
	if s.dc != nil {
		s.dc.AddFlags(t, folder, uid, flags...)
		return
	}
	s.store(t, folder, uid, imap.StoreFlagsAdd, flags)
}

// RemoveFlags removes flags from message uid in folder.
func (s *testServer) RemoveFlags(t testing.TB, folder string, uid uint32, flags ...string) {
	t.Helper()
	if s.dc != nil {
		s.dc.RemoveFlags(t, folder, uid, flags...)
		return
	}
	s.store(t, folder, uid, imap.StoreFlagsDel, flags)
}

// Expunge removes message uid from folder.
func (s *testServer) Expunge(t testing.TB, folder string, uid uint32) {
	t.Helper()
	if s.dc != nil {
		s.dc.Expunge(t, folder, uid)
		return
	}
	s.store(t, folder, uid, imap.StoreFlagsAdd, []string{`\Deleted`})
	c := s.selectFolder(t, folder)
	defer c.Close()
	if err := c.UIDExpunge(imap.UIDSetNum(imap.UID(uid))).Close(); err != nil {
		t.Fatalf("expunge %q uid %d: %v", folder, uid, err)
	}
}

// DeleteMailbox deletes folder and the messages in it.
func (s *testServer) DeleteMailbox(t testing.TB, name string) {
	t.Helper()
	if s.dc != nil {
		s.dc.DeleteMailbox(t, name)
		return
	}
	c := s.client(t)
	defer c.Close()
	if err := c.Delete(name).Wait(); err != nil {
		t.Fatalf("delete %q: %v", name, err)
	}
}

// Mailboxes lists every folder that can hold messages, sorted.
func (s *testServer) Mailboxes(t testing.TB) []string {
	t.Helper()
	if s.dc != nil {
		return s.dc.Mailboxes(t)
	}
	c := s.client(t)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var names []string
outer:
	for _, mb := range list {
		for _, a := range mb.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				continue outer
			}
		}
		names = append(names, mb.Mailbox)
	}
	sort.Strings(names)
	return names
}

// UIDValidity returns folder's UIDVALIDITY.
func (s *testServer) UIDValidity(t testing.TB, folder string) uint32 {
	t.Helper()
	if s.dc != nil {
		return s.dc.UIDValidity(t, folder)
	}
	c := s.client(t)
	defer c.Close()
	st, err := c.Status(folder, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatalf("status %q: %v", folder, err)
	}
	return st.UIDValidity
}

// Messages returns every message of folder, by UID, read with EXAMINE
// and BODY.PEEK[] so that nothing changes.
func (s *testServer) Messages(t testing.TB, folder string) []dovecottest.Msg {
	t.Helper()
	if s.dc != nil {
		return s.dc.Messages(t, folder)
	}
	c := s.client(t)
	defer c.Close()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("examine %q: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	bufs, err := c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatalf("fetch %q: %v", folder, err)
	}
	var msgs []dovecottest.Msg
	for _, b := range bufs {
		m := dovecottest.Msg{UID: uint32(b.UID), InternalDate: b.InternalDate}
		for _, f := range b.Flags {
			if f != `\Recent` {
				m.Flags = append(m.Flags, string(f))
			}
		}
		sort.Strings(m.Flags)
		for _, sec := range b.BodySection {
			m.Body = sec.Bytes
		}
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs
}

// appendOK is the text of the server's tagged OK to an APPEND.
func appendOK() string {
	if serveBackend() {
		return "APPEND completed" // go-imap's imapserver
	}
	return "Append completed"
}
