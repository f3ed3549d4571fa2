package statedb

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"reflect"
	"strings"
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
	// PairKeys reads the keys of both encodings, in UID order.
	var keys []string
	var uids []model.UID
	if err := db.PairKeys("INBOX", func(uid model.UID, key []byte) {
		uids, keys = append(uids, uid), append(keys, string(key))
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keys, []string{"old.key:x", full.Key, "new"}) || !reflect.DeepEqual(uids, []model.UID{5, 7, 9}) {
		t.Fatalf("PairKeys: %v %v", uids, keys)
	}
	// PairSummaries reads the keys of both encodings, in UID order, and
	// each pair without its key, hash and fingerprint.
	var sums []model.Pair
	keys = nil
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
	good := encodeInline(model.Pair{Key: "key", Hash: "h"}, pairV1)
	if k, err := pairKey(good); err != nil || string(k) != "key" {
		t.Fatalf("%q %v", k, err)
	}
	v2, _ := encodePair(model.Pair{Key: "key", Hash: "h"})
	if k, err := pairKey(v2); err != nil || string(k) != "key" {
		t.Fatalf("version 2: %q %v", k, err)
	}
	for _, v := range [][]byte{nil, {0x82, 0}, {0x83, 0, 1, 'k'}, {0xff}, {pairV1, 0, 9, 'k'}, good[:3]} {
		if _, err := pairKey(v); err == nil {
			t.Errorf("%x: no error", v)
		}
	}
}

func TestPairEncodingRejectsGarbage(t *testing.T) {
	good := encodeInline(model.Pair{Key: "k", Keywords: model.Keywords{"a"}, Hash: "h", Ino: 5}, pairV1)
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
	v2, _ := encodePair(model.Pair{Key: "k", Keywords: model.Keywords{"a", "b"}, Size: 3, ModTime: -4})
	f.Add(v2)
	f.Add(encodeInline(model.Pair{Key: "k", Hash: "h", Fingerprint: "f", Ino: 9}, pairV1))
	f.Add([]byte{1, 'k'})
	f.Add(encodeContent(model.ContentHash([]byte("m")), model.Fingerprint(1, []byte("h"))))
	f.Fuzz(func(t *testing.T, v []byte) {
		if h, fp, err := decodeContent(v); err == nil {
			if h2, fp2, err := decodeContent(encodeContent(h, fp)); (h != "" || fp != "") && (err != nil || h2 != h || fp2 != fp) {
				t.Fatalf("content round trip %q %q -> %q %q (%v)", h, fp, h2, fp2, err)
			}
		}
		p, err := decodePair(v)
		if err != nil || v[0] < 0x80 {
			return
		}
		q, err := decodeStored(encodePair(p))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip %+v -> %+v (%v)", p, q, err)
		}
	})
}

// TestContentEncoding: hashes and fingerprints as model makes them are
// kept as raw bytes, anything else as strings; both read back as they
// were, and damaged values are refused.
func TestContentEncoding(t *testing.T) {
	hash := model.ContentHash([]byte("Subject: x\n\nbody\n"))
	fp := model.LocalFingerprint([]byte("Subject: x\n\nbody\n"))
	for _, c := range []struct{ hash, fp string }{
		{hash, fp}, {hash, ""}, {"", fp}, {"abc", "fp"}, {strings.ToUpper(hash), fp},
	} {
		v := encodeContent(c.hash, c.fp)
		if raw := c.hash == hash && c.fp == fp; raw != (v[0] == contentRaw) || raw && len(v) != 49 {
			t.Errorf("%q %q: encoded as %x", c.hash, c.fp, v)
		}
		h, f, err := decodeContent(v)
		if err != nil || h != c.hash || f != c.fp {
			t.Errorf("%q %q: read back %q %q %v", c.hash, c.fp, h, f, err)
		}
	}
	if encodeContent("", "") != nil {
		t.Error("no hash and no fingerprint made a value")
	}
	raw := encodeContent(hash, fp)
	for _, v := range [][]byte{nil, {0x02}, raw[:48], append(bytes.Clone(raw), 0), {contentStrings, 5, 'a'}, {contentStrings, 0}} {
		if _, _, err := decodeContent(v); err == nil {
			t.Errorf("%x: no error", v)
		}
	}
}

// TestSchema1IsConverted: a state written by schema 1 (pairs of versions
// 0 and 1, hashes inline) is converted when opened: every pair is
// rewritten in version 2 with its hashes in the content bucket, and
// loads as it did.
func TestSchema1IsConverted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	hash := model.ContentHash([]byte("m"))
	pairs := []model.Pair{
		{UID: 3, Key: "old.key", Flags: model.FlagSeen},
		{UID: 5, Key: "k5", Flags: model.FlagFlagged, Keywords: model.Keywords{"$Label1"}, Size: 10, ModTime: 99, Ino: 7, Hash: hash, Fingerprint: "odd fingerprint"},
		{UID: 8, Key: "k8", Size: 11, ModTime: 100, Hash: hash, Fingerprint: model.Fingerprint(1, []byte("h"))},
	}
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		meta.Put(keyVersion, u32(1))
		folders, _ := tx.CreateBucket(bucketFolders)
		fb, _ := folders.CreateBucket([]byte("INBOX"))
		fb.Put(keyValidity, u32(42))
		pb, _ := fb.CreateBucket(bucketPairs)
		pb.Put(u32(3), append([]byte{byte(model.FlagSeen)}, "old.key"...))
		pb.Put(u32(5), encodeInline(pairs[1], pairV1))
		return pb.Put(u32(8), encodeInline(pairs[2], pairV1))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Load("INBOX")
	if err != nil || st.UIDValidity != 42 || !reflect.DeepEqual(st.Pairs, pairs) {
		t.Fatalf("after conversion: %+v, %v\nwant pairs %+v", st, err, pairs)
	}
	got, err := db.LoadPairs("INBOX", []model.UID{8, 5})
	if err != nil || !reflect.DeepEqual(got, []model.Pair{pairs[2], pairs[1]}) {
		t.Fatalf("LoadPairs: %+v, %v", got, err)
	}
	db.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); binary.BigEndian.Uint32(v) != schemaVersion {
			t.Errorf("schema %d after conversion", binary.BigEndian.Uint32(v))
		}
		fb := tx.Bucket(bucketFolders).Bucket([]byte("INBOX"))
		fb.Bucket(bucketPairs).ForEach(func(k, v []byte) error {
			if v[0] != pairV2 {
				t.Errorf("pair %x not rewritten: %x", k, v)
			}
			return nil
		})
		if n := fb.Bucket(bucketContent).Stats().KeyN; n != 2 {
			t.Errorf("%d content values, want 2", n)
		}
		return nil
	})
	// A pair rewritten without hashes loses its content value; one
	// deleted loses both.
	p := pairs[2]
	p.Hash, p.Fingerprint = "", ""
	if err := db.Commit("INBOX", model.StateChange{PutPairs: []model.Pair{p}, DeletePairs: []model.UID{5}}); err != nil {
		t.Fatal(err)
	}
	st, err = db.Load("INBOX")
	if err != nil || !reflect.DeepEqual(st.Pairs, []model.Pair{pairs[0], p}) {
		t.Fatalf("after rewrite and delete: %+v, %v", st.Pairs, err)
	}
	db.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketFolders).Bucket([]byte("INBOX")).Bucket(bucketContent).Stats().KeyN; n != 0 {
			t.Errorf("%d content values left", n)
		}
		return nil
	})
}
