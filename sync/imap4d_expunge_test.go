package sync

import (
	"fmt"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
)

// TestFolderEmptiedLocallyOnImap4d deletes every local file of a synced
// folder on GNU Mailutils imap4d. imap4d has no UIDPLUS, answers a plain
// EXPUNGE with "* n EXPUNGED" (go-imap's client took the connection for
// broken), and gives a folder it empties a new UIDVALIDITY (the current
// time): the retry then refused the folder for the deletions it had just
// propagated, on every later run (MAILSYNC_SEED=1795438297230100799 of
// the randomized test).
func TestFolderEmptiedLocallyOnImap4d(t *testing.T) {
	fx := newImap4dFixture(t)
	for round := 0; round < 2; round++ {
		for i := 0; i < 3; i++ {
			fx.deliver(t, "INBOX", fixedMsg(fmt.Sprintf("imap4d emptied %d.%d", round, i)), model.FlagFlagged)
		}
		fx.sync(t)
		time.Sleep(1100 * time.Millisecond) // imap4d's UIDVALIDITY is a time in seconds
		inbox := fx.folder(t, "INBOX")
		ents, err := inbox.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ents {
			if err := inbox.Remove(en.Key); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := fx.run(t, Options{AllowMassDelete: true})
		if err != nil {
			t.Fatalf("round %d: %v (%+v)", round, err, sum)
		}
		if n := len(fx.srv.Messages(t, "INBOX")); n != 0 {
			t.Fatalf("round %d: %d messages left on the server, want 0", round, n)
		}
		fx.assertInSync(t)
		if sum := fx.sync(t); sum.Changed() {
			t.Fatalf("round %d: one more run changed something: %+v", round, sum)
		}
	}
}
