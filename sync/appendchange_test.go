package sync

import (
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// Case 5: without UIDPLUS, a message the server changes on APPEND
// (Dovecot turns "x\r\r\n" into "x\r\n") must still be found on the
// server after its upload, so that it is neither uploaded again nor
// downloaded back; the change is said once, naming folder and file.
func TestChangedOnAppendWithoutUIDPlus(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{NoUIDPlus: true})
	fx.sync(t)
	msg := []byte("From: Alice <alice@example.org>\nSubject: a stray CR\nMessage-ID: <stray-cr@test>\n\nx\r\r\nend\n")
	en := fx.deliver(t, "INBOX", msg, 0)
	sum := fx.sync(t)
	if sum.Uploaded != 1 || sum.Downloaded != 0 {
		t.Fatalf("first run: %+v, want one upload and no download", sum)
	}
	if !mentions(sum.Warnings, "the server changed this message on upload") || !mentions(sum.Warnings, en.Key) || !mentions(sum.Warnings, `"INBOX"`) {
		t.Errorf("first run: no warning naming the folder and file: %q", sum.Warnings)
	}
	for run := 2; run <= 3; run++ {
		sum = fx.sync(t)
		if sum.Uploaded != 0 || sum.Downloaded != 0 {
			t.Fatalf("run %d: %+v, want nothing moved", run, sum)
		}
		if mentions(sum.Warnings, "changed this message") {
			t.Errorf("run %d: the change is said again: %q", run, sum.Warnings)
		}
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("%d messages on the server, want 1", n)
	}
	entries, err := fx.folder(t, "INBOX").Scan()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Key, en.Key) {
		t.Fatalf("Maildir holds %d messages, want only %s", len(entries), en.Key)
	}
}
