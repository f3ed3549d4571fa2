package sync

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

var (
	pullKeep = Options{Policy: plan.Policy{Direction: plan.Pull, Deletions: plan.Keep}}
	pushKeep = Options{Policy: plan.Policy{Direction: plan.Push, Deletions: plan.Keep}}
)

func (fx *fixture) localCount(t *testing.T, folder string) int {
	t.Helper()
	f := fx.folder(t, folder)
	if !f.Exists() {
		return 0
	}
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// expungeAll empties a server folder as another client would.
func (fx *fixture) expungeAll(t *testing.T, folder string) {
	t.Helper()
	for _, m := range fx.srv.Messages(t, folder) {
		fx.srv.Expunge(t, folder, m.UID)
	}
}

// removeAllLocal empties a Maildir folder as the user's rm would.
func (fx *fixture) removeAllLocal(t *testing.T, folder string) {
	t.Helper()
	f := fx.folder(t, folder)
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if err := os.Remove(f.EntryPath(en)); err != nil {
			t.Fatal(err)
		}
	}
}

// serverSnapshot is everything a run could change on the server: the
// folder list, and per folder UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ
// (Dovecot) and every message's UID and flags.
func (fx *fixture) serverSnapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, mb := range fx.srv.Mailboxes(t) {
		fmt.Fprintf(&b, "%s validity %d", mb, fx.srv.UIDValidity(t, mb))
		if dc := fx.srv.dc; dc != nil {
			fmt.Fprintf(&b, " uidnext %d modseq %d", dc.UIDNext(t, mb), dc.HighestModSeq(t, mb))
		}
		b.WriteString("\n")
		for _, m := range fx.srv.Messages(t, mb) {
			fmt.Fprintf(&b, "  %d %v %x\n", m.UID, m.Flags, sha256.Sum256(m.Body))
		}
	}
	return b.String()
}

// treeChecksums lists every directory and file under root with its
// mode, size, mtime and content checksum.
func treeChecksums(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == root {
			b.WriteString("(no such directory)\n")
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		fmt.Fprintf(&b, "%s %v %d %d %s\n", strings.TrimPrefix(p, root), fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func fileBytes(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "(no such file)"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestBackupSurvivesWipedMailbox (issue 10): a backup is direction pull
// with deletions keep. After a sync, another client expunges everything
// on the server: the backup keeps every local file, uploads nothing back
// (now or in later runs, and the guard has nothing to say), and a
// message new on the server later still arrives.
func TestBackupSurvivesWipedMailbox(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 8; i++ {
		fx.srv.Save(t, "INBOX", testMsg(fmt.Sprintf("backed up %d", i)))
	}
	fx.srv.Save(t, "Archive", testMsg("archived"))
	if sum, err := fx.run(t, pullKeep); err != nil || sum.Downloaded != 9 {
		t.Fatalf("first backup: %v %+v", err, sum)
	}
	fx.expungeAll(t, "INBOX")
	fx.expungeAll(t, "Archive")
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, pullKeep)
		if err != nil || sum.Uploaded != 0 || sum.DeletedLocal != 0 || sum.Changed() {
			t.Fatalf("run %d after the wipe: %v %+v", run, err, sum)
		}
		if n, a := fx.localCount(t, "INBOX"), fx.localCount(t, "Archive"); n != 8 || a != 1 {
			t.Fatalf("run %d: %d and %d local files, want 8 and 1", run, n, a)
		}
		if n := len(fx.srv.Messages(t, "INBOX")) + len(fx.srv.Messages(t, "Archive")); n != 0 {
			t.Fatalf("run %d: %d messages uploaded back", run, n)
		}
	}
	fx.srv.Save(t, "INBOX", testMsg("after the wipe"))
	sum, err := fx.run(t, pullKeep)
	if err != nil || sum.Downloaded != 1 || sum.Uploaded != 0 {
		t.Fatalf("new mail after the wipe: %v %+v", err, sum)
	}
	if n := fx.localCount(t, "INBOX"); n != 9 {
		t.Fatalf("%d local files, want 9", n)
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("%d messages on the server, want 1", n)
	}
}

// TestPullNeverChangesTheServer: under direction pull, local news (a new
// message, a new folder, a flag change, a deletion) never reach the
// server, which stays byte for byte as it was (folders, UIDNEXT,
// HIGHESTMODSEQ, flags); server flags win locally; server news arrive.
func TestPullNeverChangesTheServer(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.staleState = true // the locally deleted message's pair stays: it is never downloaded again
	for i := 0; i < 3; i++ {
		fx.srv.Save(t, "INBOX", testMsg(fmt.Sprintf("pulled %d", i)))
	}
	pull := Options{Policy: plan.Policy{Direction: plan.Pull}}
	fx.run(t, pull)
	before := fx.serverSnapshot(t)
	f := fx.folder(t, "INBOX")
	entries, err := f.Scan()
	if err != nil || len(entries) != 3 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	if _, err := f.SetFlags(entries[0].Key, model.FlagFlagged|model.FlagSeen); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.EntryPath(entries[1])); err != nil {
		t.Fatal(err)
	}
	fx.deliver(t, "INBOX", testMsg("local only"), 0)
	fx.deliver(t, "Local", testMsg("local folder"), 0)
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, pull)
		if err != nil || sum.Uploaded != 0 || sum.ExpungedRemote != 0 || sum.FlagsToServer != 0 {
			t.Fatalf("run %d: %v %+v", run, err, sum)
		}
		if run == 1 && sum.FlagsToLocal != 1 {
			t.Fatalf("the server's flags did not win: %+v", sum)
		}
		if after := fx.serverSnapshot(t); after != before {
			t.Fatalf("run %d changed the server:\n%s", run, lineDiff(before, after))
		}
	}
	en, err := f.Lookup(entries[0].Key)
	if err != nil || en.Flags != 0 {
		t.Fatalf("local flag change kept against the server: %v %v", en.Flags, err)
	}
	if n := fx.localCount(t, "INBOX"); n != 3 {
		t.Fatalf("%d local files, want 3 (2 synced, 1 local only; the deleted one not downloaded again)", n)
	}
	fx.srv.Save(t, "INBOX", testMsg("new on the server"))
	if sum, err := fx.run(t, pull); err != nil || sum.Downloaded != 1 {
		t.Fatalf("new server mail: %v %+v", err, sum)
	}
}

// TestPushKeepSurvivesWipedMaildir: the symmetric story. Under push with
// deletions keep, a Maildir emptied by mistake leaves the server's
// copies alone and nothing is downloaded back; a new local message is
// still uploaded and a new server message is never downloaded; the
// Maildir is never changed (no flags from the server).
func TestPushKeepSurvivesWipedMaildir(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 7; i++ {
		fx.deliver(t, "INBOX", testMsg(fmt.Sprintf("pushed %d", i)), 0)
	}
	if sum, err := fx.run(t, pushKeep); err != nil || sum.Uploaded != 7 {
		t.Fatalf("first push: %v %+v", err, sum)
	}
	fx.removeAllLocal(t, "INBOX")
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, pushKeep)
		if err != nil || sum.Downloaded != 0 || sum.ExpungedRemote != 0 || sum.Changed() {
			t.Fatalf("run %d after the wipe: %v %+v", run, err, sum)
		}
		if n := len(fx.srv.Messages(t, "INBOX")); n != 7 {
			t.Fatalf("run %d: %d server messages, want 7", run, n)
		}
		if n := fx.localCount(t, "INBOX"); n != 0 {
			t.Fatalf("run %d: %d files downloaded back", run, n)
		}
	}
	fx.deliver(t, "INBOX", testMsg("after the wipe"), 0)
	fx.srv.Save(t, "INBOX", testMsg("server only"))
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	before := treeChecksums(t, fx.acct.Maildir)
	sum, err := fx.run(t, pushKeep)
	if err != nil || sum.Uploaded != 1 || sum.Downloaded != 0 || sum.FlagsToLocal != 0 {
		t.Fatalf("after the wipe: %v %+v", err, sum)
	}
	if after := treeChecksums(t, fx.acct.Maildir); after != before {
		t.Fatalf("push changed the Maildir:\n%s", lineDiff(before, after))
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 9 {
		t.Fatalf("%d server messages, want 9", n)
	}
}

// TestRestoreAfterGuard (issue 10): a local folder emptied by mistake is
// held back by the guard, whose message offers --restore; --restore
// downloads the server's copies again and renews the pairs. The other
// way: the server emptied by another client, --restore uploads the
// local copies again.
func TestRestoreAfterGuard(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 6; i++ {
		fx.srv.Save(t, "INBOX", testMsg(fmt.Sprintf("precious %d", i)))
	}
	fx.srv.AddFlags(t, "INBOX", 2, `\Flagged`)
	fx.sync(t)

	fx.removeAllLocal(t, "INBOX")
	sum, err := fx.run(t, Options{})
	if err == nil || len(sum.Errors) != 1 || !strings.Contains(sum.Errors[0], "--restore") || !strings.Contains(sum.Errors[0], "--allow-mass-delete") {
		t.Fatalf("guard: %v %+v", err, sum)
	}
	sum, err = fx.run(t, Options{Policy: plan.Policy{Restore: true}})
	if err != nil || sum.Downloaded != 6 || sum.ExpungedRemote != 0 {
		t.Fatalf("restore from the server: %v %+v", err, sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("after the restore: %+v", sum)
	}

	fx.expungeAll(t, "INBOX")
	if _, err := fx.run(t, Options{}); err == nil {
		t.Fatal("the guard let a server wipe empty the Maildir")
	}
	sum, err = fx.run(t, Options{Policy: plan.Policy{Restore: true}})
	if err != nil || sum.Uploaded != 6 || sum.DeletedLocal != 0 {
		t.Fatalf("restore to the server: %v %+v", err, sum)
	}
	fx.assertInSync(t)
	flagged := 0
	for _, m := range fx.srv.Messages(t, "INBOX") {
		if strings.Contains(fmt.Sprint(m.Flags), `\Flagged`) {
			flagged++
		}
	}
	if flagged != 1 {
		t.Fatalf("%d flagged messages after the restore, want 1", flagged)
	}
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("after the restore: %+v", sum)
	}
}

// TestDryRunChangesNothing (issue 10): with changes waiting on both
// sides (new messages, new folders, flags, deletions), a dry run plans
// them and leaves the Maildir tree, the state file and the server
// (folders, UIDNEXT, HIGHESTMODSEQ, flags) exactly as they were; the sync
// that follows does what the dry run said. A dry run of a new account
// creates neither the Maildir nor the state file.
func TestDryRunChangesNothing(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 4; i++ {
		fx.srv.Save(t, "INBOX", testMsg(fmt.Sprintf("dry %d", i)))
	}
	var mu gosync.Mutex
	plans := map[string]*plan.Plan{}
	dry := Options{DryRun: true, Planned: func(folder string, p *plan.Plan) {
		mu.Lock()
		plans[folder] = p
		mu.Unlock()
	}}
	// A new account.
	if _, err := fx.run(t, dry); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fx.acct.StatePath); !os.IsNotExist(err) {
		t.Fatalf("the dry run created the state file: %v", err)
	}
	if _, err := os.Stat(fx.acct.Maildir); !os.IsNotExist(err) {
		t.Fatalf("the dry run created the Maildir: %v", err)
	}
	if p := plans["INBOX"]; p == nil || len(p.Download) != 4 {
		t.Fatalf("new account's plan: %+v", plans)
	}

	fx.sync(t)
	fx.srv.Save(t, "INBOX", testMsg("new on the server"))
	fx.srv.Save(t, "ServerNew", testMsg("new server folder"))
	fx.srv.AddFlags(t, "INBOX", 1, `\Answered`)
	fx.deliver(t, "INBOX", testMsg("new local"), 0)
	fx.deliver(t, "LocalNew", testMsg("new local folder"), 0)
	f := fx.folder(t, "INBOX")
	entries, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	var deleted int
	for _, en := range entries {
		if strings.Contains(fileBytes(t, f.EntryPath(en)), "dry 3") {
			os.Remove(f.EntryPath(en))
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("deleted %d", deleted)
	}

	server, tree, state := fx.serverSnapshot(t), treeChecksums(t, fx.acct.Maildir), fileBytes(t, fx.acct.StatePath)
	clear(plans)
	sum, err := fx.run(t, dry)
	if err != nil {
		t.Fatalf("dry run: %v %+v", err, sum)
	}
	if after := fx.serverSnapshot(t); after != server {
		t.Errorf("the dry run changed the server:\n%s", lineDiff(server, after))
	}
	if after := treeChecksums(t, fx.acct.Maildir); after != tree {
		t.Errorf("the dry run changed the Maildir:\n%s", lineDiff(tree, after))
	}
	if fileBytes(t, fx.acct.StatePath) != state {
		t.Errorf("the dry run changed the state file")
	}
	in, sn, ln := plans["INBOX"], plans["ServerNew"], plans["LocalNew"]
	if in == nil || sn == nil || ln == nil {
		t.Fatalf("plans for %v", plans)
	}
	if len(in.Download) != 1 || len(in.Upload) != 1 || len(in.ExpungeRemote) != 1 || len(in.Flags) != 1 ||
		len(sn.Download) != 1 || len(ln.Upload) != 1 {
		t.Fatalf("plans:\nINBOX %+v\nServerNew %+v\nLocalNew %+v", in, sn, ln)
	}
	sum = fx.sync(t)
	if sum.Downloaded != 2 || sum.Uploaded != 2 || sum.ExpungedRemote != 1 || sum.FlagsToLocal != 1 {
		t.Fatalf("the sync after the dry run: %+v", sum)
	}
	fx.assertInSync(t)
}

// TestRetryResumesAfterServerRestart (issue 10): the server restarts in
// the middle of a run (connections cut, new ones refused for a moment);
// the engine backs off, reconnects, and the run completes with every
// message synced once: the folders done before the cut are not redone.
func TestRetryResumesAfterServerRestart(t *testing.T) {
	requireDovecot(t, "a server restart")
	fx := newFixture(t, nil)
	fx.acct.Connections = 1
	folders := []string{"A", "B", "C"}
	for _, name := range folders {
		for i := 0; i < 20; i++ {
			fx.srv.Save(t, name, testMsg(fmt.Sprintf("%s %d", name, i)))
		}
	}
	old := retryBase
	retryBase = 500 * time.Millisecond
	t.Cleanup(func() { retryBase = old })
	restarted := make(chan struct{})
	var once bool
	var reconnects atomic.Int32
	done := map[string]int{}
	opts := Options{
		Progress: progressFunc(func(msgs int) {
			// Mid-run: some folders done, others to come.
			if !once && msgs > 0 && len(done) == 2 {
				once = true
				// Dovecot's running imap processes outlive its master:
				// cut them as the restart of a whole host would.
				fx.srv.dc.KickConnections(t)
				go func() {
					fx.srv.dc.Restart(t, 1500*time.Millisecond)
					close(restarted)
				}()
				time.Sleep(200 * time.Millisecond) // the connection is cut under the run
			}
		}),
		FolderDone: func(folder string, s Summary, _ time.Duration, err error) { done[folder]++ },
		Logf: func(format string, args ...any) {
			t.Logf(format, args...)
			if strings.Contains(format, "reconnecting") {
				reconnects.Add(1)
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, fx.acct, opts)
	if !once {
		t.Fatal("the server was never restarted")
	}
	<-restarted
	if err != nil {
		t.Fatalf("the run did not survive the restart: %v %+v", err, sum)
	}
	if reconnects.Load() == 0 {
		t.Fatal("no connection was lost: the restart came too late")
	}
	if sum.Downloaded != 60 {
		t.Fatalf("downloaded %d, want 60 (each message once)", sum.Downloaded)
	}
	for name, n := range done {
		if n != 1 {
			t.Errorf("folder %q synced %d times", name, n)
		}
	}
	fx.assertInSync(t)
}

type progressFunc func(msgs int)

func (progressFunc) Plan(int, int64)          {}
func (f progressFunc) Done(msgs int, _ int64) { f(msgs) }

func TestRetryDelay(t *testing.T) {
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i, w := range want {
		if got := retryDelay(i); got != w*time.Second {
			t.Errorf("retryDelay(%d) = %v, want %v", i, got, w*time.Second)
		}
		if got := reconnectDelay(i + 1); got != w*time.Second {
			t.Errorf("reconnectDelay(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if reconnectDelay(0) != 0 {
		t.Errorf("reconnectDelay(0) = %v, want 0", reconnectDelay(0))
	}
}
