package sync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// Issue 8 case 16: a file edited in place (a draft saved again under the
// same name) is a new message replacing the old one: verify calls it a
// change, the sync uploads the new content and expunges the old UID, and
// the next run is a no-op.
func TestEditedFileIsReplaced(t *testing.T) {
	// Written in place, the edit moves no directory mtime, so a folder
	// unchanged otherwise is skipped (skip.go) until --full or
	// FullListingAge: those runs are Full. Saved by a rename (as most
	// mail clients save), the default run sees it.
	for _, tc := range []struct {
		name   string
		opts   *dovecottest.Options
		rename bool
	}{{"uidplus in place", nil, false}, {"uidplus saved by rename", nil, true},
		{"no uidplus in place", &dovecottest.Options{NoUIDPlus: true, NoCondStore: true}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.opts)
			draft := testMsg("draft")
			en := fx.deliver(t, "Drafts", draft, model.FlagDraft)
			fx.deliver(t, "Drafts", testMsg("other draft"), model.FlagDraft)
			fx.sync(t)
			before := fx.srv.Messages(t, "Drafts")
			if len(before) != 2 {
				t.Fatalf("%d messages on the server", len(before))
			}
			drafts := fx.folder(t, "Drafts")
			cur, err := drafts.Lookup(en.Key)
			if err != nil {
				t.Fatal(err)
			}
			edited := []byte(strings.Replace(string(draft), "Hello draft,", "Hello draft, with a second thought,", 1))
			path := drafts.EntryPath(cur)
			if tc.rename {
				tmp := filepath.Join(drafts.Path(), "tmp", "resaved")
				if err := os.WriteFile(tmp, edited, 0o600); err != nil {
					t.Fatal(err)
				}
				path = tmp
			} else if err := os.WriteFile(path, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
			if tc.rename {
				if err := os.Rename(path, drafts.EntryPath(cur)); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Verify(context.Background(), fx.acct, VerifyOptions{Quick: true})
			if err != nil || len(rep.Differences) != 1 || !strings.Contains(rep.Differences[0].What, "edited locally, to be uploaded by the next sync that checks this folder (within the hour, or now with sync --full)") {
				t.Fatalf("verify: %v %v", err, rep.Differences)
			}
			sum, err := fx.run(t, Options{Full: !tc.rename})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Uploaded != 1 || sum.ExpungedRemote != 1 || sum.Downloaded != 0 || sum.DeletedLocal != 0 {
				t.Fatalf("summary %+v: want the new content uploaded and the old expunged", sum)
			}
			after := fx.srv.Messages(t, "Drafts")
			if len(after) != 2 {
				t.Fatalf("%d messages on the server, want 2", len(after))
			}
			found := false
			for _, m := range after {
				if string(model.FromCRLF(m.Body)) == string(draft) {
					t.Fatal("the old content is still on the server")
				}
				if string(model.FromCRLF(m.Body)) == string(edited) {
					found = true
					if model.FlagsFromIMAP(m.Flags)&model.FlagDraft == 0 {
						t.Errorf("the new copy lost \\Draft: %v", m.Flags)
					}
				}
			}
			if !found {
				t.Fatal("the edited content is not on the server")
			}
			fx.assertInSync(t)
			if sum := fx.sync(t); sum.Changed() {
				t.Fatalf("the run after changed something: %+v", sum)
			}
			rep, err = Verify(context.Background(), fx.acct, VerifyOptions{})
			if err != nil || len(rep.Differences) != 0 {
				t.Fatalf("verify after: %v %v", err, rep.Differences)
			}
		})
	}
}

// A file only touched (mtime moved, same content) is not an edit: its
// new mtime is recorded and nothing moves.
func TestTouchedFileIsNotAnEdit(t *testing.T) {
	fx := newFixture(t, nil)
	en := fx.deliver(t, "INBOX", testMsg("touched"), model.FlagSeen)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	cur, _ := inbox.Lookup(en.Key)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(inbox.EntryPath(cur), later, later); err != nil {
		t.Fatal(err)
	}
	// A touch moves no directory mtime: only a full listing sees it.
	if sum, err := fx.run(t, Options{Full: true}); err != nil || sum.Changed() {
		t.Fatalf("a touch changed something: %v %+v", err, sum)
	}
	db := openState(t, fx)
	st, err := db.Load("INBOX")
	db.Close()
	if err != nil || len(st.Pairs) != 1 || st.Pairs[0].ModTime != later.UnixNano() {
		t.Fatalf("the new mtime is not recorded: %v %+v", err, st.Pairs)
	}
	fx.assertInSync(t)
}

// Finding edits costs no stat per file when only the server changed
// (issue 11): a file rewritten in place (same inode, no rename) moves no
// directory mtime, and is found by its size and mtime, which a run reads
// for the paired files of a folder whose Maildir side changed, once its
// last check is FullListingAge old, or with --full. A file saved again
// by a rename changes the folder and is found at once, even when its
// new inode is the old one's again (seed 1795454348737245825 of the
// randomized test: two saves in a row). Nothing is read or uploaded
// twice.
func TestEditsFoundWithoutAStatPerFile(t *testing.T) {
	fx := newFixture(t, nil)
	a := fx.deliver(t, "Drafts", testMsg("draft a"), model.FlagDraft)
	b := fx.deliver(t, "Drafts", testMsg("draft b"), model.FlagDraft)
	fx.sync(t)
	drafts := fx.folder(t, "Drafts")
	edit := func(key string, rename bool) []byte {
		t.Helper()
		cur, err := drafts.Lookup(key)
		if err != nil {
			t.Fatal(err)
		}
		old, _, err := drafts.ReadFile(key)
		if err != nil {
			t.Fatal(err)
		}
		body := append(old, []byte("one more line\n")...)
		path := drafts.EntryPath(cur)
		if rename {
			path = filepath.Join(drafts.Path(), "tmp", "resaved")
		}
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if rename {
			if err := os.Rename(path, drafts.EntryPath(cur)); err != nil {
				t.Fatal(err)
			}
		}
		return body
	}
	onServer := func(body []byte) bool {
		for _, m := range fx.srv.Messages(t, "Drafts") {
			if string(model.FromCRLF(m.Body)) == string(body) {
				return true
			}
		}
		return false
	}

	// Rewritten in place (same inode, no rename) while only the server
	// changed: the Maildir folder is as the last run left it, so its
	// files are not stat'ed, and the edit waits for the check.
	inPlace := edit(a.Key, false)
	fx.srv.Save(t, "Drafts", testMsg("from the server"))
	sum := fx.sync(t)
	if sum.Downloaded != 1 || sum.Uploaded != 0 || sum.ExpungedRemote != 0 || onServer(inPlace) {
		t.Fatalf("summary %+v: the in-place edit was looked for before its check was due", sum)
	}

	// An hour later the check is due: the next run reads the paired
	// files' sizes and mtimes and finds the in-place edit.
	db := openState(t, fx)
	si, err := db.LoadSkip("Drafts")
	if err != nil || si.Skip.Listed == 0 {
		t.Fatalf("skip record %+v, %v: no check time recorded", si.Skip, err)
	}
	si.Skip.Listed -= int64(FullListingAge + time.Minute)
	if err := db.SetSkip("Drafts", si.Skip, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	sum = fx.sync(t)
	if sum.Uploaded != 1 || sum.ExpungedRemote != 1 || !onServer(inPlace) {
		t.Fatalf("summary %+v: the in-place edit was not found once its check was due", sum)
	}

	// Saved twice by a rename over its name: the second save may get
	// the inode the first one freed, the one the pair remembers (ext4
	// reuses it at once). The rename changed the folder, so its paired
	// files are stat'ed, and the new mtime tells the edit.
	edit(b.Key, true)
	resaved := edit(b.Key, true)
	sum = fx.sync(t)
	if sum.Uploaded != 1 || sum.ExpungedRemote != 1 || !onServer(resaved) {
		t.Fatalf("summary %+v: the draft saved twice by a rename was not replaced on the server", sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("the run after changed something: %+v", sum)
	}
}
