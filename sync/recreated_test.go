package sync

import (
	"testing"
)

// TestRecreatedEmptyFolderWithLocalDeletion: a folder deleted and
// created again on the server (a new UIDVALIDITY, no messages) while a
// synced message of it was deleted in the Maildir. Nothing on the server
// can be the deleted message, so the folder starts over: the other
// local messages are uploaded. It failed on every run with "UIDVALIDITY
// changed on the server while the local folder also changed" (randomized
// test, MAILSYNC_RANDOM_ALL=1 MAILSYNC_SEED=1795443431595043018 on
// dovecot-oneconn).
func TestRecreatedEmptyFolderWithLocalDeletion(t *testing.T) {
	fx, n := recreatedSent(t)
	sent := fx.folder(t, "Sent")
	ents, err := sent.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if err := sent.Remove(ents[0].Key); err != nil {
		t.Fatal(err)
	}
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	if got := len(fx.srv.Messages(t, "Sent")); got != n-1 {
		t.Fatalf("%d messages in the recreated Sent, want the %d left in the Maildir", got, n-1)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("one more run changed something: %+v", sum)
	}
}

// TestRecreatedFolderWithNewMail: a folder deleted and created again on
// the server, and a message delivered to the new folder before the next
// sync. The new folder holds none of the messages paired before, so it
// is a new folder, not a renumbered one: it starts over as when empty.
// The Maildir keeps every message, they are uploaded into it, and the
// new one is downloaded. Before, the run took it for a renumbering and
// deleted every Maildir message unchanged since its last sync
// (randomized test, MAILSYNC_SEED=1796582552836290443 on dovecot).
func TestRecreatedFolderWithNewMail(t *testing.T) {
	fx, n := recreatedSent(t)
	fx.srv.Save(t, "Sent", []byte("From: a@example.org\r\nSubject: new in the new Sent\r\nMessage-ID: <new-sent@example.org>\r\n\r\nhello\r\n"))
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	if sum.DeletedLocal != 0 {
		t.Fatalf("%d Maildir messages deleted, want none (%+v)", sum.DeletedLocal, sum)
	}
	if got := len(fx.srv.Messages(t, "Sent")); got != n+1 {
		t.Fatalf("%d messages in the recreated Sent, want the %d of the Maildir and the new one", got, n+1)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("one more run changed something: %+v", sum)
	}
}

// recreatedSent syncs the seed, then deletes Sent on the server and
// creates it again (a new UIDVALIDITY, no messages); n is the number of
// messages Sent had.
func recreatedSent(t *testing.T) (fx *fixture, n int) {
	t.Helper()
	fx = newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	n = len(fx.srv.Messages(t, "Sent"))
	if n < 2 {
		t.Fatalf("seed put %d messages in Sent, want 2 or more", n)
	}
	before := fx.srv.UIDValidity(t, "Sent")
	fx.srv.DeleteMailbox(t, "Sent")
	c := fx.srv.client(t)
	if err := c.Create("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if fx.srv.UIDValidity(t, "Sent") == before {
		t.Fatal("the server kept the UIDVALIDITY of the recreated folder")
	}
	return fx, n
}
