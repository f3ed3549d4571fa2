package sync

import "testing"

// A folder emptied by another client on a CONDSTORE server is emptied
// locally too: the server's empty UID list is a list, not "unknown"
// (found by TestRandomTwoClients).
func TestFolderEmptiedOnTheServer(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("only"))
	fx.sync(t)
	fx.srv.Expunge(t, "INBOX", 1)
	fx.sync(t)
	fx.assertInSync(t)
}
