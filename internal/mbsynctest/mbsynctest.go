// Package mbsynctest makes Maildirs the way people who come to mailsync
// already have them: it runs the real mbsync (isync 1.4) and OfflineIMAP
// against a test Dovecot (internal/dovecottest), for the tests of
// adopting such a Maildir. When a tool is not installed the test is
// skipped, or fails when CI is "true", as dovecottest does for Dovecot.
package mbsynctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true: a missing tool is a failure)", tool)
		}
		t.Skipf("%s is not installed", tool)
	}
	return p
}

// quote writes s as a double-quoted string for an mbsync config.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Mbsync runs `mbsync -a` once with every folder of srv ("Patterns *")
// into the Maildir at root with "SubFolders Verbatim". INBOX goes to
// root/INBOX ("Inbox <Path>/INBOX", as mbsync's manual suggests), or to
// the root itself when inboxAtRoot. Its state stays in the Maildir, as
// mbsync keeps it by default (.mbsyncstate, .uidvalidity). It returns
// mbsync's output.
func Mbsync(t testing.TB, srv *dovecottest.Server, root string, inboxAtRoot bool) string {
	t.Helper()
	bin := need(t, "mbsync")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(root, "INBOX")
	if inboxAtRoot {
		inbox = root
	}
	rc := fmt.Sprintf(`IMAPAccount test
Host %s
Port %d
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore test-remote
Account test

MaildirStore test-local
Path %s/
Inbox %s
SubFolders Verbatim

Channel test
Far :test-remote:
Near :test-local:
Patterns *
Create Both
Sync All
SyncState *
`, srv.Host, srv.Port, quote(srv.User), quote(srv.Password), quote(root), quote(inbox))
	cfg := filepath.Join(t.TempDir(), "mbsyncrc")
	if err := os.WriteFile(cfg, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-c", cfg, "-a").CombinedOutput()
	if err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	return string(out)
}

// OfflineIMAP runs offlineimap once (-o) with every folder of srv into
// the Maildir at root with nested folders ("sep = /"), its metadata in a
// temporary directory. It returns OfflineIMAP's output.
func OfflineIMAP(t testing.TB, srv *dovecottest.Server, root string) string {
	t.Helper()
	bin := need(t, "offlineimap")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := t.TempDir()
	rc := fmt.Sprintf(`[general]
accounts = test
metadata = %s

[Account test]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s
sep = /

[Repository remote]
type = IMAP
remotehost = %s
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
`, meta, root, srv.Host, srv.Port, srv.User, srv.Password)
	cfg := filepath.Join(meta, "offlineimaprc")
	if err := os.WriteFile(cfg, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-c", cfg, "-o", "-u", "basic").CombinedOutput()
	if err != nil || strings.Contains(string(out), "ERROR") {
		t.Fatalf("offlineimap: %v\n%s", err, out)
	}
	return string(out)
}
