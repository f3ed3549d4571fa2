package sync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/mbsynctest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// adoptFolders are the folders seeded for the adoption tests, sorted:
// nested, non-ASCII (modified UTF-7 on disk), with "&", and INBOX's own
// child.
var adoptFolders = []string{"Archive/2002", "Archive/2002/Q1", "INBOX", "INBOX/sub", "R&D", "Été/Sous-dossier"}

// seedAdopt fills the server with folders: two messages each, some
// with flags. It returns how many messages it stored.
func seedAdopt(t *testing.T, fx *fixture, folders []string) int {
	t.Helper()
	n := 0
	for _, f := range folders {
		for i := 0; i < 2; i++ {
			fx.srv.Save(t, f, testMsg("adopt "+f))
			n++
		}
	}
	fx.srv.AddFlags(t, "INBOX", 1, `\Seen`, `\Flagged`)
	fx.srv.AddFlags(t, "Archive/2002", 2, `\Seen`, `\Answered`)
	fx.srv.AddFlags(t, "Été/Sous-dossier", 1, `\Seen`)
	return n
}

// fileContents maps every message file under root to its bytes.
func fileContents(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if d := filepath.Base(filepath.Dir(p)); !fi.IsDir() && (d == "cur" || d == "new") {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[strings.TrimPrefix(p, root)] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (fx *fixture) verifyClean(t *testing.T, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, quick := range []bool{false, true} {
		rep, err := Verify(ctx, fx.acct, VerifyOptions{Quick: quick})
		if err != nil {
			t.Fatalf("verify (quick %v): %v", quick, err)
		}
		if len(rep.Differences) != 0 || rep.Checked != want {
			t.Errorf("verify (quick %v): checked %d of %d, differences %v", quick, rep.Checked, want, rep.Differences)
		}
	}
}

// adoptAndCheck is the adoption scenario over a Maildir another tool
// made at fx.acct.Maildir from the seeded server (n messages): the
// first sync with layout = "fs" downloads and uploads nothing, pairs
// every message by content, changes no file and agrees on flags; then a
// new server message arrives into the nested tree and local changes go
// up.
func adoptAndCheck(t *testing.T, fx *fixture, folders []string, n int) {
	t.Helper()
	before := fileContents(t, fx.acct.Maildir)
	if len(before) != n {
		t.Fatalf("the other tool wrote %d message files, want %d", len(before), n)
	}

	// Without the layout the nested tree is refused, and nothing is
	// written into it (no parallel Maildir++ tree).
	snap := treeSnapshot(t, fx.acct.Maildir)
	_, err := fx.run(t, Options{})
	if !errors.Is(err, maildir.ErrLayoutMismatch) || !strings.Contains(err.Error(), `layout = "fs"`) {
		t.Fatalf("sync without layout over a nested Maildir: %v, want a layout mismatch saying layout = \"fs\"", err)
	}
	if treeSnapshot(t, fx.acct.Maildir) != snap {
		t.Fatal("the refused sync changed the Maildir")
	}

	fx.acct.Layout = maildir.LayoutFS
	md, err := maildir.OpenLayout(fx.acct.Maildir, maildir.LayoutFS)
	if err != nil {
		t.Fatal(err)
	}
	fx.md = md
	sum := fx.sync(t)
	if sum.Downloaded != 0 || sum.Uploaded != 0 || sum.Paired != n || sum.FlagsToServer != 0 || sum.FlagsToLocal != 0 || len(sum.Warnings)+len(sum.Errors) != 0 {
		t.Fatalf("first sync over the adopted Maildir: %+v; want %d paired and nothing else", sum, n)
	}
	if after := fileContents(t, fx.acct.Maildir); !mapsEqual(before, after) {
		t.Errorf("adoption changed files:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
	if got := fx.srv.Mailboxes(t); !slices.Equal(got, folders) {
		t.Errorf("server folders after adoption: %q, want %q", got, folders)
	}
	if got, _ := md.Folders(); !slices.Equal(got, folders) {
		t.Errorf("Maildir folders after adoption: %q, want %q", got, folders)
	}
	fx.verifyClean(t, n)
	if sum := fx.sync(t); sum.Downloaded+sum.Uploaded+sum.Paired+sum.FlagsToLocal+sum.FlagsToServer != 0 {
		t.Errorf("second sync: %+v, want a no-op", sum)
	}

	// A new server message arrives into the nested folder.
	fresh := testMsg("arrives later")
	fx.srv.Save(t, "Été/Sous-dossier", fresh)
	if sum := fx.sync(t); sum.Downloaded != 1 || sum.Uploaded != 0 {
		t.Fatalf("after a new server message: %+v, want 1 download", sum)
	}
	found := false
	for p, data := range fileContents(t, fx.acct.Maildir) {
		if data == string(fresh) {
			found = strings.HasPrefix(p, "/&AMk-t&AOk-/Sous-dossier/")
			if !found {
				t.Errorf("the new message landed in %s", p)
			}
		}
	}
	if !found {
		t.Error("the new server message is not in the Maildir")
	}

	// Local changes go up: a flag on an adopted file and a new message.
	arch := fx.folder(t, "Archive/2002")
	ents, err := arch.Scan()
	if err != nil || len(ents) != 2 {
		t.Fatalf("Archive/2002: %v, %v", ents, err)
	}
	var plain maildir.Entry
	for _, e := range ents {
		if e.Flags == 0 {
			plain = e
		}
	}
	if _, err := arch.SetFlags(plain.Key, model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	mine := testMsg("written locally")
	fx.deliver(t, "Archive/2002/Q1", mine, model.FlagSeen)
	if sum := fx.sync(t); sum.Uploaded != 1 || sum.FlagsToServer != 1 || sum.Downloaded != 0 {
		t.Fatalf("after local changes: %+v, want 1 upload and 1 flag change to the server", sum)
	}
	flagged := 0
	for _, m := range fx.srv.Messages(t, "Archive/2002") {
		if slices.Contains(m.Flags, `\Flagged`) {
			flagged++
		}
	}
	uploaded := false
	for _, m := range fx.srv.Messages(t, "Archive/2002/Q1") {
		uploaded = uploaded || bytes.Equal(model.FromCRLF(m.Body), mine)
	}
	if flagged != 1 || !uploaded {
		t.Errorf("server: %d flagged in Archive/2002 (want 1), local message uploaded %v", flagged, uploaded)
	}
	fx.verifyClean(t, n+2)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Issue 10: a Maildir made by mbsync ("SubFolders Verbatim", which adds
// an X-TUID line to every message) is adopted with layout = "fs":
// nothing is downloaded again, nothing doubled, verify is clean.
func TestAdoptMbsyncMaildir(t *testing.T) {
	for _, tt := range []struct {
		name        string
		inboxAtRoot bool
	}{{"InboxDir", false}, {"InboxAtRoot", true}} {
		folders := adoptFolders
		if tt.inboxAtRoot {
			// mbsync with Inbox equal to Path stores INBOX/sub as
			// <Path>/sub, the directory of a top-level "sub": such a
			// tree cannot be read back losslessly (README).
			folders = slices.DeleteFunc(slices.Clone(folders), func(f string) bool { return f == "INBOX/sub" })
		}
		t.Run(tt.name, func(t *testing.T) {
			requireDovecot(t, "mbsync runs against a real server")
			fx := newFixture(t, nil)
			n := seedAdopt(t, fx, folders)
			mbsynctest.Mbsync(t, fx.srv.dc, fx.acct.Maildir, tt.inboxAtRoot)
			tuid := 0
			for _, data := range fileContents(t, fx.acct.Maildir) {
				if model.HasTUID([]byte(data)) {
					tuid++
				}
			}
			if tuid != n {
				t.Fatalf("%d of %d mbsync files carry X-TUID: the test no longer covers it", tuid, n)
			}
			inbox := filepath.Join(fx.acct.Maildir, "INBOX")
			if tt.inboxAtRoot {
				inbox = fx.acct.Maildir
			}
			if _, err := os.Stat(filepath.Join(inbox, "cur")); err != nil {
				t.Fatalf("mbsync's INBOX is not where the test expects: %v", err)
			}
			adoptAndCheck(t, fx, folders, n)
		})
	}
}

// Issue 10: a Maildir made by OfflineIMAP with nested folders (sep = /)
// is adopted with layout = "fs".
func TestAdoptOfflineIMAPMaildir(t *testing.T) {
	requireDovecot(t, "offlineimap runs against a real server")
	fx := newFixture(t, nil)
	n := seedAdopt(t, fx, adoptFolders)
	mbsynctest.OfflineIMAP(t, fx.srv.dc, fx.acct.Maildir)
	if _, err := os.Stat(filepath.Join(fx.acct.Maildir, "INBOX", "sub", "cur")); err != nil {
		t.Fatalf("OfflineIMAP's tree is not as the test expects: %v", err)
	}
	adoptAndCheck(t, fx, adoptFolders, n)
}

// Issue 10: a server folder whose name the fs layout cannot store (a
// level "cur" would be the parent's own cur/) is skipped with a warning
// naming it; the others sync.
func TestFSLayoutSkipsUnstorableFolder(t *testing.T) {
	fx := newFixture(t, nil)
	fx.acct.Layout = maildir.LayoutFS
	md, err := maildir.OpenLayout(fx.acct.Maildir, maildir.LayoutFS)
	if err != nil {
		t.Fatal(err)
	}
	fx.md = md
	fx.srv.Save(t, "Lists/cur", testMsg("unstorable"))
	fx.srv.Save(t, "Lists/go", testMsg("storable"))
	sum := fx.sync(t)
	if sum.Downloaded != 1 || len(sum.Errors) != 0 || len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0], `"Lists/cur"`) {
		t.Fatalf("summary %+v; want 1 download and one warning naming Lists/cur", sum)
	}
	if _, err := os.Stat(filepath.Join(fx.acct.Maildir, "Lists", "go", "new")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fx.acct.Maildir, "INBOX", "cur")); err != nil {
		t.Fatalf("a new fs-layout Maildir has no INBOX/: %v", err)
	}
}

// Issue 10: mbsync also writes an X-TUID line into the messages it
// uploads, so the server's copy may carry one that the Maildir file
// lacks. They pair, and a full verify is clean.
func TestTUIDInServerCopyPairs(t *testing.T) {
	fx := newFixture(t, nil)
	local := testMsg("uploaded by mbsync")
	hdr := model.HeaderBlock(local)
	server := append(append(append([]byte{}, hdr[:len(hdr)-1]...), "X-TUID: 0aBcDeFgHiJk\n\n"...), local[len(hdr):]...)
	fx.srv.Save(t, "INBOX", server)
	fx.deliver(t, "INBOX", local, model.FlagSeen)
	sum := fx.sync(t)
	if sum.Paired != 1 || sum.Downloaded+sum.Uploaded != 0 {
		t.Fatalf("summary %+v; want the two copies paired", sum)
	}
	rep, err := Verify(context.Background(), fx.acct, VerifyOptions{})
	if err != nil || len(rep.Differences) != 0 || rep.Checked != 1 {
		t.Fatalf("verify: %+v, %v; want 1 checked, no difference", rep, err)
	}
}
