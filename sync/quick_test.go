package sync

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

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

	// The Maildir changed too: still a quick pass, which plans the
	// renamed file and the message the server changed alone.
	toggleSeen(t, fx, "INBOX")
	fx.srv.AddFlags(t, "INBOX", 3, `\Seen`)
	step("both sides changed", 1, func(s *Summary) bool { return s.FlagsToServer == 1 && s.FlagsToLocal == 1 })

	// Only the Maildir changed: a flag renamed, a file removed, a new
	// file.
	toggleSeen(t, fx, "Sent")
	fx.deliver(t, "Archive/2024", testMsg("new in the Maildir"), 0)
	removeOne(t, fx, "INBOX")
	step("the Maildir changed", 3, func(s *Summary) bool {
		return s.FlagsToServer == 1 && s.Uploaded == 1 && s.ExpungedRemote == 1
	})
}

// TestQuickPassFindsFilesByName: once a quick pass proved the Maildir
// folder holds one file per pair and nothing else (its Skip record is
// Exact), the next run after changes on the server alone finds the
// files of the changed messages by name, reading neither new/ nor cur/,
// with the same result. A file another program named otherwise (its
// letters out of order) is not where its name is looked for: the folder
// is listed, and the sync is the same.
func TestQuickPassFindsFilesByName(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	step := func(name string, wantUnlisted int, check func(*Summary) bool) {
		t.Helper()
		sum, err := fx.run(t, Options{AllowMassDelete: true})
		if err != nil || sum.QuickUnlisted != wantUnlisted || !check(sum) {
			t.Fatalf("%s: %v, %d quick passes without a listing, want %d; summary %+v", name, err, sum.QuickUnlisted, wantUnlisted, sum)
		}
		if wantUnlisted > 0 && sum.Listings != 0 {
			t.Fatalf("%s: the Maildir folders were read %d times, want none", name, sum.Listings)
		}
		fx.assertInSync(t)
		if t.Failed() {
			t.FailNow()
		}
		if sum, sel := fx.syncCounting(t); len(sel) != 0 || sum.Changed() {
			t.Fatalf("%s: the no-op run after it selected %q (summary %+v)", name, sel, sum)
		}
	}
	any := func(*Summary) bool { return true }
	// The first quick pass after a whole one lists the folder, and
	// proves it exact.
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	step("first server change", 0, func(s *Summary) bool { return s.QuickPasses == 1 && s.FlagsToLocal == 1 })

	fx.srv.AddFlags(t, "INBOX", 2, `\Flagged`, "$Label1")
	fx.srv.RemoveFlags(t, "INBOX", 1, `\Flagged`)
	fx.srv.Save(t, "INBOX", testMsg("new on the server"))
	// Nothing expunged: the stored number of pairs proves it, and no
	// pair but those of the changed messages is read.
	step("flags, a keyword and a new message", 1, func(s *Summary) bool {
		return s.FlagsToLocal == 2 && s.Downloaded == 1 && s.PairWalks == 0
	})

	fx.srv.Expunge(t, "INBOX", 3)
	fx.srv.AddFlags(t, "INBOX", 2, `\Seen`)
	// The counts disagree: the pairs' UIDs are read to find which.
	step("an expunge and a flag on a file with a keyword", 1, func(s *Summary) bool {
		return s.DeletedLocal == 1 && s.FlagsToLocal == 1 && s.PairWalks == 1
	})

	// Another program gives a file its letters out of order ("SF"):
	// a Maildir change, then a quick pass that lists and proves the
	// folder exact again.
	f := fx.folder(t, "INBOX")
	ents, err := f.Scan()
	if err != nil || len(ents) == 0 {
		t.Fatal(ents, err)
	}
	odd := ents[0]
	if err := os.Rename(f.EntryPath(odd), filepath.Join(f.Path(), "cur", odd.Key+":2,SF")); err != nil {
		t.Fatal(err)
	}
	step("a rename in the Maildir", 0, any)
	body, err := os.ReadFile(filepath.Join(f.Path(), "cur", odd.Key+":2,SF"))
	if err != nil {
		t.Fatal(err)
	}
	subject, _, _ := strings.Cut(string(body[strings.Index(string(body), "Subject:"):]), "\n")
	var other uint32
	for _, m := range fx.srv.Messages(t, "INBOX") {
		if !strings.Contains(string(m.Body), subject) {
			other = m.UID
		}
	}
	fx.srv.AddFlags(t, "INBOX", other, `\Answered`)
	step("a server change to another message after it", 0, any)
	// The file's name is not where it is looked for: listed.
	for _, m := range fx.srv.Messages(t, "INBOX") {
		fx.srv.AddFlags(t, "INBOX", m.UID, `\Draft`)
	}
	step("a change to every message, the odd name too", 0, func(s *Summary) bool { return s.FlagsToLocal == len(ents) })
}

// TestQuickPassSeesEveryFile: a quick pass must not miss a Maildir
// file: under pull, a file only in the Maildir stays unpaired; when the
// same message then arrives on the server it is paired with the file by
// content, not downloaded as a second copy (the quick pass plans every
// file of no pair beside the new message).
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
	if err != nil || sum.Downloaded != 0 || sum.Paired != 1 || sum.QuickPasses != 1 {
		t.Fatalf("the server's copy of a Maildir-only message: %v %+v (want it paired, not downloaded, by a quick pass)", err, sum)
	}
	if n := fx.localCount(t, "INBOX"); n != 4 {
		t.Fatalf("%d files in INBOX, want 4", n)
	}
}

// TestQuickPassRandomServerChanges: rounds of random changes made on the
// server alone (flags, keywords, new messages, expunges, some rounds
// many at once, and no change at all), each followed by a sync: the
// Maildir ends each round equal to the server (assertInSync), the
// syncs after the first are quick passes, and the next run is a no-op.
func TestQuickPassRandomServerChanges(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	s := rng.Int63()
	if env := os.Getenv("MAILSYNC_SEED"); env != "" {
		s, _ = strconv.ParseInt(env, 10, 64)
	}
	rng = rand.New(rand.NewSource(s))
	t.Logf("seed %d (reproduce with MAILSYNC_SEED=%d)", s, s)
	folders := []string{"INBOX", "Sent", "Archive/2024", "Ünïcödé"}
	flags := []string{`\Seen`, `\Flagged`, `\Answered`, `\Draft`, `\Deleted`, "$Label1", "Work"}
	quick, unlisted := 0, 0
	for round := 0; round < 8; round++ {
		for n := rng.Intn(6); n > 0; n-- {
			f := folders[rng.Intn(len(folders))]
			msgs := fx.srv.Messages(t, f)
			switch op := rng.Intn(5); {
			case op == 0 || len(msgs) == 0:
				fx.srv.Save(t, f, testMsg(fmt.Sprintf("round %d", round)))
			case op == 1:
				fx.srv.Expunge(t, f, msgs[rng.Intn(len(msgs))].UID)
			case op == 2:
				fx.srv.RemoveFlags(t, f, msgs[rng.Intn(len(msgs))].UID, flags[rng.Intn(len(flags))])
			default:
				fx.srv.AddFlags(t, f, msgs[rng.Intn(len(msgs))].UID, flags[rng.Intn(len(flags))])
			}
		}
		sum, err := fx.run(t, Options{AllowMassDelete: true})
		if err != nil {
			t.Fatalf("round %d: %v (%+v)", round, err, sum)
		}
		quick += sum.QuickPasses
		unlisted += sum.QuickUnlisted
		fx.assertInSync(t)
		if t.Failed() {
			t.Fatalf("round %d (seed %d): not in sync after %+v", round, s, sum)
		}
		if sum, err := fx.run(t, Options{}); err != nil || sum.Changed() {
			t.Fatalf("round %d (seed %d): the run after it: %v %+v", round, s, err, sum)
		}
	}
	if quick == 0 {
		t.Fatalf("seed %d: no quick pass in 8 rounds of server changes", s)
	}
	t.Logf("%d quick passes, %d of them without a listing", quick, unlisted)
}

// removeOne removes a message file of a Maildir folder, as a mail client
// deleting it would.
func removeOne(t *testing.T, fx *fixture, folder string) {
	t.Helper()
	f := fx.folder(t, folder)
	ents, err := f.List()
	if err != nil || len(ents) == 0 {
		t.Fatalf("list %s: %d messages, %v", folder, len(ents), err)
	}
	if err := os.Remove(f.EntryPath(ents[len(ents)-1])); err != nil {
		t.Fatal(err)
	}
}

// TestListingGCPercent: a quick pass that reads the Maildir folder runs
// with ListingGCPercent as the collector's percentage, and puts the
// previous one back.
func TestListingGCPercent(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	old := ListingGCPercent
	ListingGCPercent = 10
	prev := debug.SetGCPercent(77)
	t.Cleanup(func() { ListingGCPercent = old; debug.SetGCPercent(prev) })
	f := fx.folder(t, "INBOX")
	ents, err := f.Scan()
	if err != nil || len(ents) == 0 {
		t.Fatal(ents, err)
	}
	if _, err := f.SetFlags(ents[0].Key, ents[0].Flags^model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	before := listingGCSet.Load()
	sum := fx.sync(t)
	if sum.QuickPasses == 0 || listingGCSet.Load() == before {
		t.Fatalf("the quick pass that read INBOX did not set the percentage (summary %+v)", sum)
	}
	if got := debug.SetGCPercent(77); got != 77 {
		t.Fatalf("the collector's percentage after the run is %d, want 77 put back", got)
	}
	fx.assertInSync(t)
}
