package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// TestNamespacePrefixServer (issue 8, case 9): a server whose personal
// namespace has the prefix "INBOX." with separator "." (Courier, Debian's
// Cyrus). Its folder INBOX.Spam is the local folder Spam (directory
// .Spam, not .INBOX.Spam), and a new local folder is created under the
// prefix, so the account syncs instead of failing on every run.
func TestNamespacePrefixServer(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{Separator: ".", NamespacePrefix: "INBOX."})
	fx.srv.Save(t, "INBOX", testMsg("inbox on a prefixed server"))
	fx.srv.Save(t, "Spam", testMsg("spam on a prefixed server"))
	fx.srv.Save(t, "Archive/2024", testMsg("archive on a prefixed server"))
	fx.deliver(t, "Local/Sub", testMsg("created locally"), model.FlagSeen)
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatalf("sync: %v (summary %+v)", err, sum)
	}
	if sum.Downloaded != 3 || sum.Uploaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	local, err := fx.md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(local, " "), "Archive Archive/2024 INBOX Local Local/Sub Spam"; got != want &&
		got != "Archive/2024 INBOX Local/Sub Spam" && got != "Archive Archive/2024 INBOX Local/Sub Spam" {
		t.Fatalf("local folders %q, want the server's without the INBOX. prefix", got)
	}
	fx.assertInSync(t)
	// The second run has nothing to do and nothing to warn about.
	sum = fx.sync(t)
	if sum.Downloaded != 0 || sum.Uploaded != 0 || len(sum.Warnings) != 0 {
		t.Fatalf("second run: summary %+v", sum)
	}
}

// TestServerWithoutNamespace: a server that does not advertise NAMESPACE
// has no prefix; its delimiter comes from LIST "" "".
func TestServerWithoutNamespace(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{Separator: ".", NoNamespace: true})
	fx.srv.Save(t, "Archive/2024", testMsg("no namespace"))
	fx.deliver(t, "Local/Sub", testMsg("created locally without namespace"), 0)
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.Uploaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
}

// TestFolderNameWithServerDelimiter (issue 8, case 6): a local folder
// "v1.2" on a server whose delimiter is "." would be created as v1/2 and
// downloaded again as a new folder on every run. It is refused with a
// warning naming it, before anything is copied, and the run succeeds.
func TestFolderNameWithServerDelimiter(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{Separator: "."})
	fx.deliver(t, "v1.2", testMsg("release notes"), model.FlagSeen)
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, Options{})
		if err != nil {
			t.Fatalf("run %d: %v (summary %+v)", run, err, sum)
		}
		if sum.Uploaded != 0 || sum.Downloaded != 0 {
			t.Fatalf("run %d: summary %+v", run, sum)
		}
		if len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], `"v1.2"`) || !strings.Contains(sum.Warnings[0], "delimiter") {
			t.Fatalf("run %d: warnings %q, want one naming v1.2 and the delimiter", run, sum.Warnings)
		}
	}
	if got := strings.Join(fx.srv.Mailboxes(t), " "); got != "INBOX" {
		t.Fatalf("server folders %q, want only INBOX", got)
	}
}

// TestFolderNamesDifferingInCase (issue 8, case 7): only the name INBOX
// is case-insensitive. A Maildir folder "Inbox/sub" (directory
// .Inbox.sub) beside the server's INBOX/sub is its own folder, not
// INBOX/sub; Dovecot would fold it into INBOX/sub on CREATE, so it is
// refused with a warning naming it instead of being ignored in silence
// or merged.
func TestFolderNamesDifferingInCase(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("inbox"))
	fx.srv.Save(t, "INBOX/sub", testMsg("server sub"))
	fx.sync(t)
	// Another program makes .Inbox.sub in the Maildir.
	dir := filepath.Join(fx.acct.Maildir, ".Inbox.sub")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cur", "1.M1P1.test:2,S"), model.FromCRLF(testMsg("local Inbox sub")), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatalf("sync: %v (summary %+v)", err, sum)
	}
	if len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], `"Inbox/sub"`) || !strings.Contains(sum.Warnings[0], `"INBOX/sub"`) {
		t.Fatalf("warnings %q, want one naming Inbox/sub and INBOX/sub", sum.Warnings)
	}
	if sum.Uploaded != 0 || sum.Downloaded != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if n := len(fx.srv.Messages(t, "INBOX/sub")); n != 1 {
		t.Fatalf("server INBOX/sub has %d messages, want 1 (nothing merged into it)", n)
	}
	if ents, _ := fx.folder(t, "INBOX/sub").Scan(); len(ents) != 1 {
		t.Fatalf("local INBOX/sub has %d messages, want 1", len(ents))
	}
}
