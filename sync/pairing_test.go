package sync

import (
	"testing"
)

// TestContentPairingNeedsTheWholeMessage (issue 8, case 1): two messages
// with the same header block and the same size but different bodies, one
// on each side, are two messages: neither is taken for the other.
func TestContentPairingNeedsTheWholeMessage(t *testing.T) {
	fx := newFixture(t, nil)
	header := "From: Alice <alice@example.org>\nSubject: same header\nMessage-ID: <same@test>\n\n"
	fx.srv.Save(t, "INBOX", []byte(header+"the server's body\n"))
	fx.deliver(t, "INBOX", []byte(header+"the Maildir body!\n"), 0)
	sum := fx.sync(t)
	if sum.Paired != 0 || sum.Downloaded != 1 || sum.Uploaded != 1 {
		t.Fatalf("summary %+v; want 1 downloaded, 1 uploaded, none paired", sum)
	}
	fx.assertInSync(t)

	// The same after a lost state: each is paired with its own copy.
	removeState(t, fx)
	sum = fx.sync(t)
	if sum.Paired != 2 || sum.Downloaded+sum.Uploaded != 0 {
		t.Fatalf("after a lost state: %+v; want 2 paired", sum)
	}
	fx.assertInSync(t)
}
