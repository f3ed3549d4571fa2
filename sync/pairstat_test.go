package sync

import (
	"fmt"
	"os"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// The size and mtime a pair remembers are the file's own, whichever
// side the message came from: otherwise every paired file looks edited
// (plan.NeedEditCheck) and each pass of a changed folder reads them all.
func TestPairsRememberTheFilesStat(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 3; i++ {
		fx.srv.Save(t, "INBOX", testMsg(fmt.Sprintf("from the server %d", i)))
		fx.deliver(t, "INBOX", testMsg(fmt.Sprintf("from the Maildir %d", i)), model.FlagSeen)
	}
	fx.sync(t)
	db := openState(t, fx)
	st, err := db.Load("INBOX")
	db.Close()
	if err != nil || len(st.Pairs) != 6 {
		t.Fatalf("%v: %d pairs", err, len(st.Pairs))
	}
	inbox := fx.folder(t, "INBOX")
	for _, p := range st.Pairs {
		en, err := inbox.Lookup(p.Key)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(inbox.EntryPath(en))
		if err != nil {
			t.Fatal(err)
		}
		if p.Size != fi.Size() || p.ModTime != fi.ModTime().UnixNano() {
			t.Errorf("pair %d %s remembers size %d mtime %d; the file has %d, %d", p.UID, p.Key, p.Size, p.ModTime, fi.Size(), fi.ModTime().UnixNano())
		}
	}
}
