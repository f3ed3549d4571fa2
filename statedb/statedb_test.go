package statedb

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a database in a temporary directory and checks its
// consistency when the test ends.
func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "acct.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("consistency: %v", err)
		}
		db.Close()
	})
	return db, path
}

func TestRoundTrip(t *testing.T) {
	db, path := openTest(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err := db.Update(func(tx *Tx) error {
		if err := tx.SetMeta("A/B", 42, 7, 99); err != nil {
			return err
		}
		for _, p := range []Pair{{UID: 3, Key: "k3", Flags: model.FlagSeen}, {UID: 1, Key: "k1"}, {UID: 300, Key: "k300", Flags: model.AllFlags}} {
			if err := tx.PutPair("A/B", p); err != nil {
				return err
			}
		}
		return tx.PutIntent("A/B", Intent{Key: "up1", Fingerprint: "fp", Created: created})
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := db.Load("A/B")
	if err != nil {
		t.Fatal(err)
	}
	want := &Folder{Name: "A/B", UIDValidity: 42, UIDNext: 7, HighestModSeq: 99,
		Pairs:   []Pair{{UID: 1, Key: "k1"}, {UID: 3, Key: "k3", Flags: model.FlagSeen}, {UID: 300, Key: "k300", Flags: model.AllFlags}},
		Intents: []Intent{{Key: "up1", Fingerprint: "fp", Created: created}}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v\nwant %+v", f, want)
	}
	names, _ := db.Folders()
	if !reflect.DeepEqual(names, []string{"A/B"}) {
		t.Fatalf("folders %v", names)
	}

	// A second opener is refused at once with a clear error.
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}

	err = db.Update(func(tx *Tx) error {
		if err := tx.DeletePair("A/B", 3); err != nil {
			return err
		}
		return tx.DeleteIntent("A/B", "up1")
	})
	if err != nil {
		t.Fatal(err)
	}
	f, _ = db.Load("A/B")
	if len(f.Pairs) != 2 || len(f.Intents) != 0 {
		t.Fatalf("after delete: %+v", f)
	}
	if err := db.Update(func(tx *Tx) error { return tx.ResetPairs("A/B") }); err != nil {
		t.Fatal(err)
	}
	f, _ = db.Load("A/B")
	if len(f.Pairs) != 0 || f.UIDValidity != 42 {
		t.Fatalf("after reset: %+v", f)
	}
}

func TestFailedUpdateWritesNothing(t *testing.T) {
	db, _ := openTest(t)
	boom := errors.New("boom")
	err := db.Update(func(tx *Tx) error {
		tx.PutPair("INBOX", Pair{UID: 1, Key: "k"})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	f, _ := db.Load("INBOX")
	if len(f.Pairs) != 0 {
		t.Fatalf("rolled back update left %+v", f.Pairs)
	}
}

func TestEmptyFolder(t *testing.T) {
	db, _ := openTest(t)
	f, err := db.Load("never")
	if err != nil || f.UIDValidity != 0 || len(f.Pairs) != 0 {
		t.Fatalf("%+v %v", f, err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.PutPair("x", Pair{UID: 0, Key: "k"}) }); err == nil {
		t.Fatal("uid 0 accepted")
	}
}

func TestCommit(t *testing.T) {
	db, _ := openTest(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.Commit("F", model.StateChange{Meta: &model.Meta{UIDValidity: 9, UIDNext: 4, HighestModSeq: 8},
		PutPairs:   []model.Pair{{UID: 1, Key: "a"}, {UID: 2, Key: "b", Flags: model.FlagSeen}},
		PutIntents: []model.Intent{{Key: "c", Fingerprint: "x", Created: created}}}); err != nil {
		t.Fatal(err)
	}
	// Reset, then put: the new pairs replace the old ones in one commit.
	if err := db.Commit("F", model.StateChange{ResetPairs: true, PutPairs: []model.Pair{{UID: 7, Key: "a"}},
		DeleteIntents: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Load("F")
	if err != nil {
		t.Fatal(err)
	}
	want := &Folder{Name: "F", UIDValidity: 9, UIDNext: 4, HighestModSeq: 8, Pairs: []Pair{{UID: 7, Key: "a"}}}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("got %+v, want %+v", st, want)
	}
	// An invalid pair fails the whole commit.
	err = db.Commit("F", model.StateChange{DeletePairs: []model.UID{7}, PutPairs: []model.Pair{{UID: 0, Key: "z"}}})
	if err == nil {
		t.Fatal("invalid pair accepted")
	}
	if st, _ := db.Load("F"); len(st.Pairs) != 1 {
		t.Fatalf("failed commit wrote: %+v", st.Pairs)
	}
	if err := db.Forget("F"); err != nil {
		t.Fatal(err)
	}
	if names, _ := db.Folders(); len(names) != 0 {
		t.Fatalf("forgotten folder still listed: %v", names)
	}
}

func TestHeldBackAndDownloadIntents(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Commit("F", model.StateChange{SetHeldBack: true, HeldBack: []model.UID{3, 5},
		PutDownloads: []model.DownloadIntent{{UID: 9, Fingerprint: "fp", Hash: "h"}, {UID: 4, Fingerprint: "fp2", Hash: "h2"}}}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Load("F")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.HeldBack, []model.UID{3, 5}) ||
		!reflect.DeepEqual(st.Downloads, []model.DownloadIntent{{UID: 4, Fingerprint: "fp2", Hash: "h2"}, {UID: 9, Fingerprint: "fp", Hash: "h"}}) {
		t.Fatalf("got held %v, downloads %+v", st.HeldBack, st.Downloads)
	}
	if err := db.Commit("F", model.StateChange{SetHeldBack: true, DeleteDownloads: []model.UID{4, 9}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Load("F"); st.HeldBack != nil || st.Downloads != nil {
		t.Fatalf("not cleared: held %v, downloads %+v", st.HeldBack, st.Downloads)
	}
}

func TestOwnerIsClaimedOnce(t *testing.T) {
	db, _ := openTest(t)
	a := Owner{Account: "a", Host: "h", User: "u", Maildir: "/m"}
	if got, err := db.ClaimOwner(a); err != nil || got != a {
		t.Fatalf("first claim: %+v %v", got, err)
	}
	if got, err := db.ClaimOwner(Owner{Account: "b", Maildir: "/other"}); err != nil || got != a {
		t.Fatalf("second claim: %+v %v, want the first owner", got, err)
	}
}

// TestPairCount: the stored number of pairs follows every change of the
// pairs (new, replaced, deleted, deleted twice, reset), is counted on the
// first change of a state that did not keep it, and one found wrong by a
// walk (a version that does not keep it changed the pairs) is not
// trusted until it is counted anew.
func TestPairCount(t *testing.T) {
	db, _ := openTest(t)
	count := func(want int, wantOK bool) {
		t.Helper()
		n, ok, err := db.PairCount("INBOX")
		if err != nil || ok != wantOK || ok && n != want {
			t.Fatalf("PairCount = %d, %v, %v; want %d, %v", n, ok, err, want, wantOK)
		}
	}
	pair := func(uid model.UID) model.Pair { return model.Pair{UID: uid, Key: fmt.Sprintf("k%d", uid)} }
	count(0, true) // no folder
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{pair(1), pair(2), pair(3)}}); err != nil {
		t.Fatal(err)
	}
	count(3, true)
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{pair(2), pair(4)}, DeletePairs: []model.UID{3, 3, 9}}); err != nil {
		t.Fatal(err)
	}
	count(3, true) // 1, 2, 4
	// A state written before the number was kept: counted at the first
	// change.
	if err := db.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Delete(keyPairCount)
	}); err != nil {
		t.Fatal(err)
	}
	count(0, false)
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{pair(5)}}); err != nil {
		t.Fatal(err)
	}
	count(4, true)
	// An older version adds a pair without counting it: the next walk
	// finds the number wrong, which is then not trusted, and recording
	// the Skip record counts the pairs anew.
	if err := db.db.Update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Bucket(bucketPairs)
		return pb.Put(u32(6), append([]byte{0}, "old.key"...))
	}); err != nil {
		t.Fatal(err)
	}
	count(4, true) // nothing read the pairs yet
	if err := db.PairKeys("INBOX", func(model.UID, []byte) {}); err != nil {
		t.Fatal(err)
	}
	count(0, false)
	if err := db.SetSkip("INBOX", Skip{UIDValidity: 1, UIDNext: 7, Messages: 5, HighestModSeq: 3, NewMtime: 1, CurMtime: 2, Exact: true}, nil); err != nil {
		t.Fatal(err)
	}
	count(5, true)
	// The same through a change of the pairs, found by a Load.
	if err := db.db.Update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Bucket(bucketPairs)
		return pb.Delete(u32(6))
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.Load("INBOX"); err != nil || len(st.Pairs) != 4 {
		t.Fatalf("Load: %v", err)
	}
	count(0, false)
	if err := db.Commit("INBOX", model.StateChange{DeletePairs: []model.UID{1}}); err != nil {
		t.Fatal(err)
	}
	count(3, true)
	if err := db.Commit("INBOX", model.StateChange{ResetPairs: true, PutPairs: []model.Pair{pair(10)}}); err != nil {
		t.Fatal(err)
	}
	count(1, true)
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestPairCountTooLow: a stored number of pairs too low to delete from
// (an older version added pairs without counting them, and no walk has
// found it out) is counted anew, and the commit goes through.
func TestPairCountTooLow(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{{UID: 1, Key: "k1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Bucket(bucketPairs).Put(u32(2), append([]byte{0}, "old"...))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit("INBOX", model.StateChange{DeletePairs: []model.UID{1, 2}}); err != nil {
		t.Fatalf("deleting both pairs: %v", err)
	}
	if n, ok, err := db.PairCount("INBOX"); err != nil || !ok || n != 0 {
		t.Fatalf("PairCount = %d, %v, %v; want 0", n, ok, err)
	}
}
