package statedb

import (
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/mailsync/mailsync/model"
)

// TestSkipRecord: a Skip record round-trips, is written only when it
// changes, and any Commit to the folder deletes it in the same
// transaction.
func TestSkipRecord(t *testing.T) {
	db, path := openTest(t)
	if si, err := db.LoadSkip("INBOX"); err != nil || si != (SkipInfo{}) {
		t.Fatalf("never synced: %+v %v", si, err)
	}
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []Pair{{UID: 1, Key: "k1"}}}); err != nil {
		t.Fatal(err)
	}
	s := Skip{UIDValidity: 7, UIDNext: 2, Messages: 1, HighestModSeq: 1 << 40, NewMtime: -5, CurMtime: 1763900000123456789}
	if err := db.SetSkip("INBOX", s, nil); err != nil {
		t.Fatal(err)
	}
	if si, err := db.LoadSkip("INBOX"); err != nil || si.Skip != s || si.Pending {
		t.Fatalf("got %+v %v, want %+v", si, err, s)
	}
	fi1, _ := os.Stat(path)
	before := fi1.ModTime()
	if err := db.SetSkip("INBOX", s, nil); err != nil { // the same: nothing written
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(path); !fi2.ModTime().Equal(before) {
		t.Fatal("the same Skip record was written again")
	}
	if err := db.Commit("INBOX", model.StateChange{PutIntents: []Intent{{Key: "up"}}}); err != nil {
		t.Fatal(err)
	}
	si, err := db.LoadSkip("INBOX")
	if err != nil || si.Skip != (Skip{}) || !si.Pending {
		t.Fatalf("after a commit: %+v %v; want no record, pending", si, err)
	}
	// Pending work of every kind.
	for name, ch := range map[string]model.StateChange{
		"dl":     {PutDownloads: []model.DownloadIntent{{UID: 3}}},
		"held":   {SetHeldBack: true, HeldBack: []model.UID{4}},
		"unkept": {SetUnkept: true, Unkept: model.FlagPassed},
		"none":   {PutPairs: []Pair{{UID: 1, Key: "k"}}},
	} {
		if err := db.Commit(name, ch); err != nil {
			t.Fatal(err)
		}
		si, err := db.LoadSkip(name)
		if err != nil || si.Pending != (name != "none") {
			t.Errorf("%s: %+v %v", name, si, err)
		}
	}
	if err := db.SetSkip("none", Skip{}, nil); err != nil { // zero: nothing to delete
		t.Fatal(err)
	}
	// With meta: both in one transaction, the record kept.
	if err := db.SetSkip("none", s, &model.Meta{UIDValidity: 7, UIDNext: 2, HighestModSeq: 9}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Load("none")
	if err != nil || st.UIDValidity != 7 || st.UIDNext != 2 || st.HighestModSeq != 9 {
		t.Fatalf("meta %+v %v", st, err)
	}
	if si, err := db.LoadSkip("none"); err != nil || si.Skip != s {
		t.Fatalf("record %+v %v", si, err)
	}
}

// TestSkipRecordExact: Exact round-trips with its record, is dropped
// with it by a Commit or a zero record, and is not read from a stale
// copy: a record written by a version that knows nothing of Exact (here,
// keySkip put alone) is not Exact.
func TestSkipRecordExact(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []Pair{{UID: 1, Key: "k1"}}}); err != nil {
		t.Fatal(err)
	}
	s := Skip{UIDValidity: 7, UIDNext: 2, Messages: 1, HighestModSeq: 9, NewMtime: 5, CurMtime: 6, Exact: true}
	load := func(step string, want Skip) {
		t.Helper()
		if si, err := db.LoadSkip("INBOX"); err != nil || si.Skip != want {
			t.Fatalf("%s: %+v %v, want %+v", step, si.Skip, err, want)
		}
	}
	if err := db.SetSkip("INBOX", s, nil); err != nil {
		t.Fatal(err)
	}
	load("exact", s)
	inexact := s
	inexact.Exact = false
	if err := db.SetSkip("INBOX", inexact, nil); err != nil { // same record, no longer exact: written
		t.Fatal(err)
	}
	load("no longer exact", inexact)
	if err := db.SetSkip("INBOX", s, nil); err != nil {
		t.Fatal(err)
	}
	// An older mailsync writes another record, leaving the copy.
	older := s
	older.Exact, older.CurMtime = false, 7
	if err := db.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Put(keySkip, older.encode())
	}); err != nil {
		t.Fatal(err)
	}
	load("a record written by an older version", older)
	// A version that kept Exact under its first key but not the number
	// of pairs (PairCount) writes an exact record: not Exact here.
	if err := db.db.Update(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFolders).Bucket([]byte("INBOX"))
		if err := fb.Put(keySkip, older.encode()); err != nil {
			return err
		}
		return fb.Put(keySkipExactV1, older.encode())
	}); err != nil {
		t.Fatal(err)
	}
	load("an exact record written by a version that did not count pairs", older)
	if err := db.SetSkip("INBOX", s, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []Pair{{UID: 2, Key: "k2"}}}); err != nil {
		t.Fatal(err)
	}
	load("after a commit", Skip{})
	if err := db.db.View(func(tx *bolt.Tx) error {
		for _, k := range [][]byte{keySkipExact, keySkipExactV1} {
			if v := tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Get(k); v != nil {
				t.Errorf("the copy %s outlived its record: %x", k, v)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
