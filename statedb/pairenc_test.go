package statedb

import (
	"reflect"
	"testing"

	"github.com/mailsync/mailsync/model"
	bolt "go.etcd.io/bbolt"
)

// Pairs written by versions before keywords ([flags][key]) still load,
// beside pairs in the versioned encoding, which keep keywords and the
// content fields.
func TestPairEncodingReadsOldRecords(t *testing.T) {
	db, _ := openTest(t)
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{{UID: 9, Key: "new"}}}); err != nil {
		t.Fatal(err)
	}
	// Write an old-format record the way version 0 did.
	err := db.db.Update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Bucket(bucketPairs)
		return pb.Put(u32(5), append([]byte{byte(model.FlagSeen | model.FlagReplied)}, "old.key:x"...))
	})
	if err != nil {
		t.Fatal(err)
	}
	full := model.Pair{UID: 7, Key: "1700000000.M1P2.host", Flags: model.FlagFlagged | model.FlagPassed,
		Keywords: model.NewKeywords("$Label1", "NonJunk", "$Junk"), Size: 1234, ModTime: 1700000000123456789,
		Ino: 987654321, Hash: "abc", Fingerprint: "fp"}
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{full}}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Load("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Pair{{UID: 5, Key: "old.key:x", Flags: model.FlagSeen | model.FlagReplied}, full, {UID: 9, Key: "new"}}
	if !reflect.DeepEqual(st.Pairs, want) {
		t.Fatalf("pairs\n got %+v\nwant %+v", st.Pairs, want)
	}
	// PairSummaries reads the keys of both encodings, in UID order, and
	// each pair without its key, hash and fingerprint.
	var sums []model.Pair
	var keys []string
	if err := db.PairSummaries("INBOX", func(key []byte, p model.Pair) {
		keys, sums = append(keys, string(key)), append(sums, p)
	}); err != nil {
		t.Fatal(err)
	}
	bare := full
	bare.Key, bare.Hash, bare.Fingerprint = "", "", ""
	wantSums := []model.Pair{{UID: 5, Flags: model.FlagSeen | model.FlagReplied}, bare, {UID: 9}}
	if !reflect.DeepEqual(keys, []string{"old.key:x", full.Key, "new"}) || !reflect.DeepEqual(sums, wantSums) {
		t.Fatalf("PairSummaries: %q\n got %+v\nwant %+v", keys, sums, wantSums)
	}
	head, err := db.LoadHead("INBOX")
	if err != nil || head.Pairs != nil {
		t.Fatalf("LoadHead: %+v, %v", head, err)
	}
}

func TestPairKeyRejectsGarbage(t *testing.T) {
	good := encodePair(model.Pair{Key: "key", Hash: "h"})
	if k, err := pairKey(good); err != nil || string(k) != "key" {
		t.Fatalf("%q %v", k, err)
	}
	for _, v := range [][]byte{nil, {0x82, 0}, {0xff}, {pairV1, 0, 9, 'k'}, good[:3]} {
		if _, err := pairKey(v); err == nil {
			t.Errorf("%x: no error", v)
		}
	}
}

func TestPairEncodingRejectsGarbage(t *testing.T) {
	good := encodePair(model.Pair{Key: "k", Keywords: model.Keywords{"a"}, Hash: "h", Ino: 5})
	// Without its last byte (the inode, a one-byte uvarint) it is a
	// record of the versions before inodes, which is valid.
	if p, err := decodePair(good[:len(good)-1]); err != nil || p.Ino != 0 || p.Hash != "h" {
		t.Errorf("a record without the inode: %+v, %v", p, err)
	}
	for _, decode := range []func([]byte) (model.Pair, error){decodePair, decodeSummary} {
		for i := 1; i < len(good)-1; i++ {
			if _, err := decode(good[:i]); err == nil {
				t.Errorf("truncated to %d bytes: no error", i)
			}
		}
		for _, v := range [][]byte{nil, {0x82, 0}, {0xff}, {pairV1, 0, 0, 0, 0, 0, 0, 0}} {
			if _, err := decode(v); err == nil {
				t.Errorf("%x: no error", v)
			}
		}
	}
}

func TestOneSidedKeywords(t *testing.T) {
	db, _ := openTest(t)
	kw := model.NewKeywords("$Label1", "Important")
	if err := db.Commit("A", model.StateChange{SetOneSided: true, OneSided: kw}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Load("A")
	if err != nil || !st.OneSided.Equal(kw) {
		t.Fatalf("%v %v", st.OneSided, err)
	}
	if err := db.Commit("A", model.StateChange{SetOneSided: true}); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Load("A"); len(st.OneSided) != 0 {
		t.Fatalf("not cleared: %v", st.OneSided)
	}
}

func FuzzDecodePair(f *testing.F) {
	f.Add(encodePair(model.Pair{Key: "k", Keywords: model.Keywords{"a", "b"}, Size: 3, ModTime: -4}))
	f.Add([]byte{1, 'k'})
	f.Fuzz(func(t *testing.T, v []byte) {
		p, err := decodePair(v)
		if err != nil || v[0] < 0x80 {
			return
		}
		q, err := decodePair(encodePair(p))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip %+v -> %+v (%v)", p, q, err)
		}
	})
}
