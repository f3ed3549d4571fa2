package sync

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/maildir"
)

// TestStateFromAnotherMaildirIsRefused (issue 8, case 4): a state file
// records the account, server and Maildir it belongs to; used with
// another Maildir it is refused with an error naming both, and nothing
// is changed on either side.
func TestStateFromAnotherMaildirIsRefused(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	first := fx.acct.Maildir
	other := filepath.Join(t.TempDir(), "Other")
	fx.acct.Maildir = other
	firstMD := fx.md
	md, err := maildir.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	fx.md = md
	fx.deliver(t, "INBOX", testMsg("in the other Maildir"), 0)
	sum, err := fx.run(t, Options{})
	if err == nil {
		t.Fatalf("a state file of %s was used for %s (%+v)", first, other, sum)
	}
	msg := err.Error()
	for _, want := range []string{fx.acct.StatePath, first, other, "delete"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not name %q: %s", want, msg)
		}
	}
	if entries, _ := fx.folder(t, "INBOX").Scan(); len(entries) != 1 {
		t.Errorf("the other Maildir's INBOX has %d messages, want its 1", len(entries))
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 3 {
		t.Errorf("server INBOX has %d messages, want 3", n)
	}
	fx.acct.Maildir, fx.md = first, firstMD
	fx.assertInSync(t)
}

// TestPairsNamingMissingFilesRepairByContent (issue 8, case 4): when the
// pairs name files that are gone while the same messages are there under
// other names (a Maildir restored by another program), the messages are
// paired again by content: nothing is expunged and nothing uploaded.
func TestPairsNamingMissingFilesRepairByContent(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 3; i++ {
		fx.srv.Save(t, "INBOX", testMsg("renamed"))
	}
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	entries, err := inbox.Scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		data, _, err := inbox.ReadFile(en.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := inbox.Remove(en.Key); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a new key
		fx.deliver(t, "INBOX", data, en.Flags)
	}
	sum := fx.sync(t)
	if sum.Paired != 3 || sum.Uploaded+sum.Downloaded+sum.ExpungedRemote+sum.DeletedLocal != 0 {
		t.Fatalf("summary %+v; want 3 paired and nothing transferred or deleted", sum)
	}
	fx.assertInSync(t)
}
