package sync

import (
	"context"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// TestQuickPass: after a run left the folders in step, changes on the
// server alone (flags, keywords, new messages, expunges) are synced by a
// quick pass (only the changed messages planned), with the same result
// as a whole pass, and the run leaves a record that lets the next no-op
// run skip the folder. A change in the Maildir makes the pass a whole
// one.
func TestQuickPass(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	step := func(name string, wantQuick int, check func(*Summary) bool) {
		t.Helper()
		sum, _ := fx.syncCounting(t)
		if sum.QuickPasses != wantQuick || !check(sum) {
			t.Fatalf("%s: %d quick passes, want %d; summary %+v", name, sum.QuickPasses, wantQuick, sum)
		}
		fx.assertInSync(t)
		if sum, sel := fx.syncCounting(t); len(sel) != 0 || sum.Changed() {
			t.Fatalf("%s: the no-op run after it selected %q (summary %+v)", name, sel, sum)
		}
	}
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	fx.srv.RemoveFlags(t, "INBOX", 2, `\Answered`)
	fx.srv.AddFlags(t, "INBOX", 3, "$Label1")
	step("server flags and a keyword", 1, func(s *Summary) bool { return s.FlagsToLocal == 3 })

	fx.srv.Save(t, "Sent", testMsg("new on the server"))
	fx.srv.Expunge(t, "Archive/2024", 2)
	step("a new message and an expunge", 2, func(s *Summary) bool { return s.Downloaded == 1 && s.DeletedLocal == 1 })

	// The Maildir changed too: a whole pass.
	inbox := fx.folder(t, "INBOX")
	ents, err := inbox.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.SetFlags(ents[0].Key, ents[0].Flags^model.FlagSeen); err != nil {
		t.Fatal(err)
	}
	fx.srv.AddFlags(t, "INBOX", 3, `\Seen`)
	step("both sides changed", 0, func(s *Summary) bool { return s.FlagsToServer == 1 && s.FlagsToLocal == 1 })
}

// TestQuickPassSeesEveryFile: a quick pass must not miss a Maildir
// file: under pull, a file only in the Maildir stays unpaired; when the
// same message then arrives on the server it is paired with the file by
// content, not downloaded as a second copy (a quick pass, which plans
// the new message alone, would download it: the keys of the files are
// not the pairs' keys, so the pass is a whole one).
func TestQuickPassSeesEveryFile(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.staleState = true // pull: the Maildir-only message is never uploaded
	seed(t, fx)
	pull := Options{Policy: plan.Policy{Direction: plan.Pull}}
	fx.run(t, pull)
	msg := testMsg("in both, unpaired")
	fx.deliver(t, "INBOX", msg, model.FlagSeen)
	if sum, err := fx.run(t, pull); err != nil || sum.Uploaded != 0 {
		t.Fatalf("pull: %v %+v", err, sum)
	}
	fx.srv.Save(t, "INBOX", msg)
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	sum, err := fx.run(t, pull)
	if err != nil || sum.Downloaded != 0 || sum.Paired != 1 || sum.QuickPasses != 0 {
		t.Fatalf("the server's copy of a Maildir-only message: %v %+v (want it paired, not downloaded, by a whole pass)", err, sum)
	}
	if n := fx.localCount(t, "INBOX"); n != 4 {
		t.Fatalf("%d files in INBOX, want 4", n)
	}
}

// TestQuickPassSeesAChangeDuringIt: a flag changed in the Maildir by
// another program while a quick pass runs (after it listed the folder),
// on a message the pass did not plan, is synced by the next run.
func TestQuickPassSeesAChangeDuringIt(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	ents, err := inbox.Scan()
	if err != nil {
		t.Fatal(err)
	}
	fx.srv.Save(t, "INBOX", testMsg("to download"))
	victim := ents[0]
	var once gosync.Once
	act := func() {
		other := fx.folder(t, "INBOX") // another program: its own view
		if _, err := other.SetFlags(victim.Key, victim.Flags^model.FlagFlagged); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		return meddlingConn{c, &once, act}, nil
	})
	if err != nil || sum.Downloaded != 1 || sum.QuickPasses != 1 {
		t.Fatalf("sync: %v %+v", err, sum)
	}
	if sum, sel := fx.syncCounting(t); sum.FlagsToServer != 1 || !slices.Contains(sel, "INBOX") {
		t.Fatalf("the flag changed during the quick pass was not synced: selected %q, summary %+v", sel, sum)
	}
	fx.assertInSync(t)
}
