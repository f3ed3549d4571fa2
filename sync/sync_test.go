package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// seed puts a multi-folder mailbox on the server.
func seed(t *testing.T, fx *fixture) {
	t.Helper()
	for _, folder := range []string{"INBOX", "Sent", "Archive/2024", "Ünïcödé"} {
		for i := 0; i < 3; i++ {
			fx.srv.Save(t, folder, testMsg(folder+" message"))
		}
	}
	fx.srv.AddFlags(t, "INBOX", 1, `\Seen`)
	fx.srv.AddFlags(t, "INBOX", 2, `\Flagged`, `\Answered`)
	fx.srv.AddFlags(t, "Sent", 1, `\Seen`, `$Forwarded`, `\Draft`)
}

func TestInitialSyncThenNoOp(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	// A message with a lone CR and no final newline survives exactly.
	fx.srv.Save(t, "INBOX", []byte("Subject: odd\n\nlone\rCR and no final newline"))
	sum := fx.sync(t)
	if sum.Downloaded != 13 || sum.Uploaded != 0 {
		t.Fatalf("first sync: %+v", sum)
	}
	fx.assertInSync(t)

	before := treeSnapshot(t, fx.acct.Maildir) + treeSnapshot(t, filepath.Dir(fx.acct.StatePath))
	sum = fx.sync(t)
	if sum.Changed() {
		t.Fatalf("no-op sync changed something: %+v", sum)
	}
	if after := treeSnapshot(t, fx.acct.Maildir) + treeSnapshot(t, filepath.Dir(fx.acct.StatePath)); after != before {
		t.Fatalf("no-op sync touched the Maildir or the state:\nbefore\n%s\nafter\n%s", before, after)
	}
	fx.assertInSync(t)
}

func TestServerChanges(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	fx.srv.Save(t, "INBOX", testMsg("new on server"))
	fx.srv.AddFlags(t, "INBOX", 3, `\Seen`)
	fx.srv.RemoveFlags(t, "INBOX", 2, `\Flagged`)
	fx.srv.Expunge(t, "Sent", 2)
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.FlagsToLocal != 2 || sum.DeletedLocal != 1 || sum.FlagsToServer != 0 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("second sync changed something: %+v", sum)
	}
}

func TestLocalChanges(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	entries, err := inbox.Scan()
	if err != nil {
		t.Fatal(err)
	}
	// Pick the messages by their flags (seed): keys do not sort in UID
	// order, and flagging UID 2 again (already F) would change nothing.
	byFlags := map[model.Flags]maildir.Entry{}
	for _, e := range entries {
		byFlags[e.Flags] = e
	}
	uid1, uid2 := byFlags[model.FlagSeen], byFlags[model.FlagFlagged|model.FlagReplied]
	if uid1.Key == "" || uid2.Key == "" {
		t.Fatalf("seeded INBOX entries not found by flags: %+v", entries)
	}
	fx.deliver(t, "INBOX", testMsg("new locally"), model.FlagSeen)
	fx.deliver(t, "INBOX", testMsg("new locally unread"), 0)
	if _, err := inbox.SetFlags(uid1.Key, uid1.Flags|model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Remove(uid2.Key); err != nil {
		t.Fatal(err)
	}
	// Another client marked a message \Deleted: our expunge must not take it.
	fx.srv.AddFlags(t, "INBOX", 3, `\Deleted`)
	sum := fx.sync(t)
	if sum.Uploaded != 2 || sum.ExpungedRemote != 1 || sum.FlagsToServer != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
	var deleted int
	for _, m := range fx.srv.Messages(t, "INBOX") {
		if model.FlagsFromIMAP(m.Flags)&model.FlagTrashed != 0 {
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("the other client's \\Deleted message did not survive (%d left)", deleted)
	}
	before := treeSnapshot(t, fx.acct.Maildir) + treeSnapshot(t, filepath.Dir(fx.acct.StatePath))
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("second sync changed something: %+v", sum)
	}
	if after := treeSnapshot(t, fx.acct.Maildir) + treeSnapshot(t, filepath.Dir(fx.acct.StatePath)); after != before {
		t.Fatalf("the no-op sync after changes on both sides touched files:\n%s", lineDiff(before, after))
	}
}

func TestConflictingFlagsMerge(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("conflict"))
	fx.srv.AddFlags(t, "INBOX", 1, `\Seen`)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	entries, _ := inbox.Scan()
	// Server: +Flagged; local: -Seen +Answered. Per-flag merge: F R.
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	if _, err := inbox.SetFlags(entries[0].Key, model.FlagReplied); err != nil {
		t.Fatal(err)
	}
	fx.sync(t)
	fx.assertInSync(t)
	msgs := fx.srv.Messages(t, "INBOX")
	if got := model.FlagsFromIMAP(msgs[0].Flags); got != model.FlagFlagged|model.FlagReplied {
		t.Fatalf("merged flags %v, want FR", got)
	}
}

func TestNewFoldersBothWays(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	fx.srv.Save(t, "Projects/Alpha", testMsg("server folder"))
	fx.deliver(t, "Local/Notes ✓", testMsg("local folder"), model.FlagSeen)
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.Uploaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
}

func TestFolderGoneIsNotDeletedOnTheOtherSide(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	fx.srv.DeleteMailbox(t, "Sent")
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Warnings) == 0 || sum.DeletedLocal != 0 || !fx.folder(t, "Sent").Exists() {
		t.Fatalf("a folder deleted on the server changed the Maildir: %+v", sum)
	}
}

func TestUIDValidityChangeRepairsByContent(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	// Recreate INBOX's sibling "Sent" with the same messages: new UIDVALIDITY.
	old := fx.srv.Messages(t, "Sent")
	before := fx.srv.UIDValidity(t, "Sent")
	fx.srv.DeleteMailbox(t, "Sent")
	for _, m := range old {
		fx.srv.Save(t, "Sent", model.FromCRLF(m.Body))
	}
	fx.srv.AddFlags(t, "Sent", 1, `\Seen`, `$Forwarded`, `\Draft`)
	if fx.srv.UIDValidity(t, "Sent") == before {
		t.Skip("server kept the UIDVALIDITY")
	}
	sum := fx.sync(t)
	if sum.Downloaded != 0 || sum.Uploaded != 0 || sum.Paired != 3 {
		t.Fatalf("summary %+v: want 3 re-paired, nothing transferred", sum)
	}
	fx.assertInSync(t)
}

// Case 8: a UIDVALIDITY change (GNU Mailutils reassigns it readily)
// while a message was added locally re-pairs by content and uploads the
// new message, instead of failing the folder on every run.
func TestUIDValidityChangeWithNewLocalMessage(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	old := fx.srv.Messages(t, "Sent")
	fx.srv.DeleteMailbox(t, "Sent")
	for _, m := range old {
		fx.srv.Save(t, "Sent", model.FromCRLF(m.Body))
	}
	fx.deliver(t, "Sent", testMsg("local while recreated"), 0)
	sum := fx.sync(t)
	if sum.Uploaded != 1 || sum.Downloaded != 0 || sum.Paired != len(old) {
		t.Fatalf("summary %+v: want %d re-paired and 1 upload", sum, len(old))
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("second run changed something: %+v", sum)
	}
}

// Issue 8 case 8: the server's UIDVALIDITY changed (the folder was
// recreated, as GNU Mailutils does on its own) while a message was
// deleted locally. The pairs remember their content, so the deleted
// message is found on the server by content and expunged there; the
// others are paired again.
func TestUIDValidityChangeWithLocalDeletion(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	old := fx.srv.Messages(t, "Sent")
	fx.srv.DeleteMailbox(t, "Sent")
	for _, m := range old {
		fx.srv.Save(t, "Sent", model.FromCRLF(m.Body))
	}
	sent := fx.folder(t, "Sent")
	ents, err := sent.Scan()
	if err != nil || len(ents) != 3 {
		t.Fatalf("scan: %v, %d messages", err, len(ents))
	}
	deleted, _, err := sent.ReadFile(ents[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := sent.Remove(ents[0].Key); err != nil {
		t.Fatal(err)
	}
	fx.deliver(t, "Sent", testMsg("new locally meanwhile"), 0)
	sum := fx.sync(t)
	if sum.ExpungedRemote != 1 || sum.Paired != 2 || sum.Uploaded != 1 || sum.Downloaded != 0 || sum.DeletedLocal != 0 {
		t.Fatalf("summary %+v: want the deleted message expunged, 2 re-paired, 1 upload", sum)
	}
	for _, m := range fx.srv.Messages(t, "Sent") {
		if string(model.FromCRLF(m.Body)) == string(deleted) {
			t.Fatalf("the message deleted locally is still on the server (uid %d)", m.UID)
		}
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("second run changed something: %+v", sum)
	}
}

// The guard holds for deletions found after a UIDVALIDITY change too:
// most of a folder deleted locally is refused, nothing is changed, and
// --allow-mass-delete lets it through.
func TestUIDValidityChangeWithMassLocalDeletion(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 6; i++ {
		fx.srv.Save(t, "Lists", testMsg("list mail"))
	}
	fx.sync(t)
	old := fx.srv.Messages(t, "Lists")
	fx.srv.DeleteMailbox(t, "Lists")
	for _, m := range old {
		fx.srv.Save(t, "Lists", model.FromCRLF(m.Body))
	}
	f := fx.folder(t, "Lists")
	ents, _ := f.Scan()
	for _, en := range ents[:5] {
		if err := f.Remove(en.Key); err != nil {
			t.Fatal(err)
		}
	}
	fx.exempt.staleState = true
	sum, err := fx.run(t, Options{})
	if err == nil || !mentions(sum.Errors, "--allow-mass-delete") {
		t.Fatalf("want the folder refused with the remedy, got %v %+v", err, sum.Errors)
	}
	if n := len(fx.srv.Messages(t, "Lists")); n != 6 {
		t.Fatalf("server folder changed: %d messages", n)
	}
	fx.exempt.staleState = false
	sum, err = fx.run(t, Options{AllowMassDelete: true})
	if err != nil || sum.ExpungedRemote != 5 {
		t.Fatalf("allowed: %v %+v", err, sum)
	}
	fx.assertInSync(t)
}

func TestLostStateRepairsWithoutDuplicates(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	fx.deliver(t, "INBOX", testMsg("local after"), 0)
	fx.srv.Save(t, "INBOX", testMsg("server after"))
	removeState(t, fx)
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.Uploaded != 1 || sum.Paired != 12 || sum.DeletedLocal+sum.ExpungedRemote != 0 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
}

func TestMassDeletionGuard(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 8; i++ {
		fx.srv.Save(t, "INBOX", testMsg("guarded"))
	}
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	entries, _ := inbox.Scan()
	for _, en := range entries {
		inbox.Remove(en.Key)
	}
	sum, err := fx.run(t, Options{})
	if err == nil || sum.ExpungedRemote != 0 || len(sum.Errors) != 1 {
		t.Fatalf("guard did not hold, or said so more than once: %v %+v", err, sum)
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 8 {
		t.Fatalf("server lost messages: %d left", n)
	}
	sum, err = fx.run(t, Options{AllowMassDelete: true})
	if err != nil || sum.ExpungedRemote != 8 {
		t.Fatalf("override: %v %+v", err, sum)
	}
	fx.assertInSync(t)
}

func TestMaildirMissingDeletesNothing(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	moved := fx.acct.Maildir + ".unmounted"
	if err := renameDir(fx.acct.Maildir, moved); err != nil {
		t.Fatal(err)
	}
	_, err := fx.run(t, Options{})
	if !errors.Is(err, ErrMaildirMissing) {
		t.Fatalf("err %v, want ErrMaildirMissing", err)
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 3 {
		t.Fatalf("server changed: %d", n)
	}
}

func TestSecondSyncIsRefusedWhileOneRuns(t *testing.T) {
	fx := newFixture(t, nil)
	db := openState(t, fx)
	defer db.Close()
	_, err := fx.run(t, Options{})
	if err == nil || !contains(err.Error(), "in use by another mailsync") {
		t.Fatalf("got %v", err)
	}
}

func TestWithoutUIDPlusOrCondStore(t *testing.T) {
	fx := newFixture(t, &dovecottestOptsNoUIDPlus)
	seed(t, fx)
	fx.sync(t)
	fx.deliver(t, "INBOX", testMsg("uploaded without uidplus"), model.FlagSeen)
	fx.deliver(t, "Sent", testMsg("another"), 0)
	sum := fx.sync(t)
	if sum.Uploaded != 2 || sum.Downloaded != 0 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("second sync changed something: %+v", sum)
	}
}

func TestLocalFolderDirectoryGoneDeletesNothing(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	if err := os.RemoveAll(fx.folder(t, "Sent").Path()); err != nil {
		t.Fatal(err)
	}
	sum, err := fx.run(t, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ExpungedRemote != 0 || len(sum.Warnings) != 1 || !contains(sum.Warnings[0], "Maildir directory") {
		t.Fatalf("summary %+v", sum)
	}
	if n := len(fx.srv.Messages(t, "Sent")); n != 3 {
		t.Fatalf("server Sent has %d messages, want 3", n)
	}
}

func TestDotSeparatorServer(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{Separator: "."})
	fx.srv.Save(t, "Archive/2024", testMsg("dot separated"))
	fx.deliver(t, "Local/Sub", testMsg("created on a dot server"), model.FlagSeen)
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.Uploaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
	if !fx.folder(t, "Archive/2024").Exists() {
		t.Fatal("Archive/2024 not created locally")
	}
}

// cancelAfter cancels a run once n messages were transferred.
type cancelAfter struct {
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Plan(int, int64) {}
func (c *cancelAfter) Done(msgs int, _ int64) {
	if c.n.Add(-int64(msgs)) <= 0 {
		c.cancel()
	}
}

// TestInterruptedRunResumes: Ctrl-C (context cancellation) in the middle
// of a download stops the run with an error that says so; the next run
// finishes without duplicates.
func TestInterruptedRunResumes(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 60; i++ {
		fx.srv.Save(t, "INBOX", testMsg("interrupted"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &cancelAfter{cancel: cancel}
	p.n.Store(10)
	sum, err := Run(ctx, fx.acct, Options{Progress: p})
	if !errors.Is(err, context.Canceled) || !contains(err.Error(), "run again") {
		t.Fatalf("err %v", err)
	}
	if sum.Downloaded >= 60 {
		t.Fatalf("the run was not interrupted: %+v", sum)
	}
	sum = fx.sync(t)
	if sum.Downloaded+sum.Paired > 60 || sum.Downloaded == 0 {
		t.Fatalf("resume: %+v", sum)
	}
	fx.assertInSync(t)
}

// After a UIDVALIDITY change the files' sizes and mtimes tell which are
// unchanged since they were paired, so they are read even when the
// Maildir folder is as the last run left it (a run after changes on the
// server alone stats no file otherwise, issue 11): a message the server
// lost across the change is deleted locally, not uploaded back.
func TestUIDValidityChangeWithUntouchedMaildir(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	old := fx.srv.Messages(t, "Sent")
	if len(old) != 3 {
		t.Fatalf("%d messages in Sent", len(old))
	}
	fx.srv.DeleteMailbox(t, "Sent")
	for _, m := range old[1:] {
		fx.srv.Save(t, "Sent", model.FromCRLF(m.Body))
	}
	sum := fx.sync(t)
	if sum.DeletedLocal != 1 || sum.Uploaded != 0 || sum.Paired != 2 {
		t.Fatalf("summary %+v: want the message gone from the server deleted locally, 2 re-paired, nothing uploaded", sum)
	}
	if n := len(fx.srv.Messages(t, "Sent")); n != 2 {
		t.Fatalf("%d messages on the server, want 2", n)
	}
	fx.assertInSync(t)
}
