// Package statedb is mailsync's memory of the last sync, one bbolt file
// per account: for every folder the server's UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ, and for every message the pair (UID, Maildir key) with
// the flags and keywords both sides agreed on and the size, mtime and
// hashes of the Maildir file (pairenc.go). It also keeps upload intents: a local
// message about to be APPENDed is recorded before the APPEND is sent, so a
// run after a crash knows to look for it on the server, and download
// intents, recorded before a downloaded file is written. And it keeps the
// pairs whose deletion the mass-deletion guard held back, so that the
// guard's decision holds until the user allows the deletion.
//
// A DB is opened by one process at a time: a second Open of the same file
// fails at once with ErrLocked. Every Update is one bbolt transaction and
// is durable when Update returns.
package statedb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/mailsync/mailsync/internal/crashpoint"
	"github.com/mailsync/mailsync/model"
)

// ErrLocked is returned by Open when another process holds the database.
// ErrCorrupt is returned, wrapped with the file's name and what to do,
// when the state file is damaged (truncated, overwritten, not a state
// file at all). Nothing has been changed then: the Maildir and the
// server are as they were, and moving the file away lets the next sync
// rebuild the state by pairing messages by content.
var ErrCorrupt = errors.New("the state file is damaged")

var ErrLocked = errors.New("in use by another mailsync (is a sync of this account already running?)")

// schemaVersion 2: pairs in the version 2 encoding, their hashes in the
// content bucket (pairenc.go); Open converts a state of schema 1.
const schemaVersion = 2

var (
	bucketFolders   = []byte("folders")
	bucketMeta      = []byte("meta")
	bucketPairs     = []byte("pairs")
	bucketContent   = []byte("content")
	bucketIntents   = []byte("intents")
	bucketDownloads = []byte("downloads")
	keyVersion      = []byte("version")
	keyOwner        = []byte("owner")
	keyValidity     = []byte("uidvalidity")
	keyUIDNext      = []byte("uidnext")
	keyModSeq       = []byte("highestmodseq")
	keyHeldBack     = []byte("heldback")
	keyUnkept       = []byte("unkept")
	keyOneSided     = []byte("onesided") // keywords said to stay on one side, space-separated
	keyPairCount    = []byte("paircount")
)

// DB is an open state database.
type DB struct {
	db     *bolt.DB
	path   string
	broken bool // a bbolt call panicked: the file is damaged, bbolt's locks may be held

	mu         gosync.Mutex
	miscounted map[string]bool // folders whose stored number of pairs a walk found wrong
}

// Pair, Intent and Folder are the model's types (kept here as aliases
// for callers that name them through statedb).
type (
	Pair   = model.Pair
	Intent = model.Intent
	Folder = model.FolderState
)

// Open opens or creates the database at path, creating its directory.
func Open(path string) (d *DB, err error) {
	defer guard(path, nil, &err)()
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && (fi.Size() < 4*minPageSize || fi.Size()%minPageSize != 0) {
		return nil, corrupt(path, fmt.Sprintf("size %d is not a whole number of pages", fi.Size()))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 200 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("state %s: %w", path, ErrLocked)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return nil, corrupt(path, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	d = &DB{db: db, path: path}
	defer guard(path, d, &err)()
	// A database already at this schema is not written to: a run that
	// changes nothing leaves the file as it was.
	current := false
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil && tx.Bucket(bucketFolders) != nil {
			v := b.Get(keyVersion)
			current = len(v) == 4 && binary.BigEndian.Uint32(v) == schemaVersion
		}
		return nil
	})
	if current {
		return d, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		v := b.Get(keyVersion)
		if v != nil && binary.BigEndian.Uint32(v) > schemaVersion {
			return fmt.Errorf("written by a newer mailsync (schema %d): upgrade mailsync", binary.BigEndian.Uint32(v))
		}
		folders, err := tx.CreateBucketIfNotExists(bucketFolders)
		if err != nil {
			return err
		}
		if v != nil && binary.BigEndian.Uint32(v) < 2 {
			if err := toSchema2(folders); err != nil {
				return err
			}
		}
		return b.Put(keyVersion, u32(schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return d, nil
}

// Owner is what a state file belongs to: one account's server login and
// Maildir. A state used with another Maildir or server would take every
// message for deleted on one side.
type Owner struct {
	Account string `json:"account"`
	Host    string `json:"host"`
	User    string `json:"user"`
	Maildir string `json:"maildir"` // absolute path
}

// ClaimOwner returns the owner recorded in the state, recording o first
// when none is (a new state, or one written before owners were kept).
// The caller compares the two.
func (d *DB) ClaimOwner(o Owner) (Owner, error) {
	var stored Owner
	found := false
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyOwner)
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &stored)
	})
	if err != nil {
		return Owner{}, fmt.Errorf("state %s: corrupt owner record: %w", d.path, err)
	}
	if found {
		return stored, nil
	}
	v, err := json.Marshal(o)
	if err != nil {
		return Owner{}, err
	}
	err = d.Update(func(tx *Tx) error { return tx.tx.Bucket(bucketMeta).Put(keyOwner, v) })
	return o, err
}

// Path is the file the database lives in.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error {
	if d.broken {
		return nil // bbolt's locks may be held by the call that panicked; the process frees the file when it ends
	}
	return d.db.Close()
}

// Folders lists the folders that have state, sorted.
func (d *DB) Folders() (out []string, err error) {
	defer guard(d.path, d, &err)()
	err = d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFolders).ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}

// minPageSize is the smallest page size bbolt uses; every state file is a
// whole number of pages, at least four (two meta pages, a freelist and a
// root).
const minPageSize = 4096

// corrupt is the error for a damaged state file at path.
func corrupt(path, detail string) error {
	return fmt.Errorf("state %s: %w (%s): nothing was changed; move it away (mv %s %s.damaged) and sync again: the state is rebuilt by pairing messages by content",
		path, ErrCorrupt, detail, path, path)
}

// guard turns a panic or memory fault inside bbolt (it reads the file
// through mmap and trusts what it finds) into ErrCorrupt in *err, and
// marks d broken so Close does not wait for locks the panicking call
// holds. Use as: defer guard(path, d, &err)().
func guard(path string, d *DB, err *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if d != nil {
				d.broken = true
			}
			*err = corrupt(path, fmt.Sprint(r))
		}
	}
}

// pairsBucket is folder name's bucket of pairs in tx, or nil.
func pairsBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
	if fb == nil {
		return nil
	}
	return fb.Bucket(bucketPairs)
}

// LoadPairs returns the stored pairs of the given UIDs (those that have
// one), without reading the folder's other pairs.
func (d *DB) LoadPairs(name string, uids []model.UID) (_ []model.Pair, err error) {
	defer guard(d.path, d, &err)()
	var out []model.Pair
	err = d.db.View(func(tx *bolt.Tx) error {
		pb := pairsBucket(tx, name)
		if pb == nil {
			return nil
		}
		cb := tx.Bucket(bucketFolders).Bucket([]byte(name)).Bucket(bucketContent)
		if len(uids) >= dropAfterPairs {
			defer dropPages(d.db, tx)
		}
		for _, u := range uids {
			k := u32(uint32(u))
			v := pb.Get(k)
			if v == nil {
				continue
			}
			var c []byte
			if cb != nil {
				c = cb.Get(k)
			}
			p, err := decodeStored(v, c)
			if err != nil {
				return fmt.Errorf("folder %q: corrupt pair entry", name)
			}
			p.UID = u
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// Load reads the state of one folder; a folder never synced comes back
// empty (UIDValidity 0), not as an error.
func (d *DB) Load(name string) (*Folder, error) { return d.load(name, true) }

// LoadHead is Load without the pairs (Pairs is nil): the folder's
// position, held-back list, intents and download intents, whatever the
// number of pairs.
func (d *DB) LoadHead(name string) (*Folder, error) { return d.load(name, false) }

func (d *DB) load(name string, withPairs bool) (_ *Folder, err error) {
	defer guard(d.path, d, &err)()
	f := &Folder{Name: name}
	miscounted := false
	err = d.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
		if fb == nil {
			return nil
		}
		if v := fb.Get(keyValidity); len(v) == 4 {
			f.UIDValidity = binary.BigEndian.Uint32(v)
		}
		if v := fb.Get(keyUIDNext); len(v) == 4 {
			f.UIDNext = model.UID(binary.BigEndian.Uint32(v))
		}
		if v := fb.Get(keyModSeq); len(v) == 8 {
			f.HighestModSeq = binary.BigEndian.Uint64(v)
		}
		if v := fb.Get(keyUnkept); len(v) == 1 {
			f.Unkept = model.Flags(v[0]) & model.AllFlags
		}
		if v := fb.Get(keyOneSided); len(v) > 0 {
			f.OneSided = model.NewKeywords(strings.Split(string(v), " ")...)
		}
		if v := fb.Get(keyHeldBack); len(v)%4 == 0 {
			for i := 0; i < len(v); i += 4 {
				f.HeldBack = append(f.HeldBack, model.UID(binary.BigEndian.Uint32(v[i:])))
			}
		} else {
			return fmt.Errorf("folder %q: corrupt held-back list", name)
		}
		if pb := fb.Bucket(bucketPairs); pb != nil && withPairs {
			defer dropPages(d.db, tx)
			if v := fb.Get(keyPairCount); len(v) == 8 && binary.BigEndian.Uint64(v) <= 1<<26 {
				f.Pairs = make([]Pair, 0, binary.BigEndian.Uint64(v))
			} else {
				f.Pairs = make([]Pair, 0, pb.Stats().KeyN)
				dropPages(d.db, tx) // Stats went through every page of the bucket
			}
			// The content bucket holds the same UIDs (or fewer): walked
			// beside the pairs, in the same order.
			var cc *bolt.Cursor
			var ck, cv []byte
			if cb := fb.Bucket(bucketContent); cb != nil {
				cc = cb.Cursor()
				ck, cv = cc.First()
			}
			walked := 0
			err := pb.ForEach(func(k, v []byte) error {
				if walked++; walked%dropEveryPairs == 0 {
					dropPages(d.db, tx)
				}
				for cc != nil && ck != nil && bytes.Compare(ck, k) < 0 {
					ck, cv = cc.Next()
				}
				var c []byte
				if ck != nil && bytes.Equal(ck, k) {
					c = cv
				}
				p, err := decodeStored(v, c)
				if len(k) != 4 || err != nil {
					return fmt.Errorf("folder %q: corrupt pair entry", name)
				}
				p.UID = model.UID(binary.BigEndian.Uint32(k))
				f.Pairs = append(f.Pairs, p)
				return nil
			})
			if err != nil {
				return err
			}
			miscounted = !countIs(tx, name, len(f.Pairs))
		}
		if db := fb.Bucket(bucketDownloads); db != nil {
			err := db.ForEach(func(k, v []byte) error {
				var in model.DownloadIntent
				if len(k) != 4 || json.Unmarshal(v, &in) != nil {
					return fmt.Errorf("folder %q: corrupt download intent", name)
				}
				in.UID = model.UID(binary.BigEndian.Uint32(k))
				f.Downloads = append(f.Downloads, in)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if ib := fb.Bucket(bucketIntents); ib != nil {
			return ib.ForEach(func(k, v []byte) error {
				var in Intent
				if err := json.Unmarshal(v, &in); err != nil {
					return fmt.Errorf("folder %q: corrupt intent %q: %w", name, k, err)
				}
				in.Key = string(k)
				f.Intents = append(f.Intents, in)
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", d.path, err)
	}
	if miscounted {
		d.markMiscounted(name)
	}
	return f, nil
}

// Update runs fn in one write transaction and commits it durably. If fn
// returns an error nothing is written.
func (d *DB) Update(fn func(tx *Tx) error) (err error) {
	defer guard(d.path, d, &err)()
	var pairs int
	var tx *Tx
	err = d.db.Update(func(btx *bolt.Tx) error {
		tx = &Tx{tx: btx, d: d}
		err := fn(tx)
		pairs = tx.pairs
		return err
	})
	if err == nil && len(tx.recounted) > 0 {
		d.mu.Lock()
		for _, name := range tx.recounted {
			delete(d.miscounted, name)
		}
		d.mu.Unlock()
	}
	if err == nil && pairs >= dropAfterPairs {
		// After the commit, which maps in the pages it frees; in a read
		// transaction, which keeps bbolt from remapping the file.
		d.db.View(func(tx *bolt.Tx) error { dropPages(d.db, tx); return nil })
	}
	if err != nil {
		return fmt.Errorf("state %s: %w", d.path, err)
	}
	crashpoint.Step("state-commit")
	return nil
}

// Commit applies ch to folder name in one transaction (one Update): on
// error nothing of ch is written. Safe for concurrent use; commits are
// serialized.
func (d *DB) Commit(name string, ch model.StateChange) error {
	return d.Update(func(tx *Tx) error {
		if err := tx.clearSkip(name); err != nil {
			return err
		}
		if ch.ResetPairs {
			if err := tx.ResetPairs(name); err != nil {
				return err
			}
		}
		if m := ch.Meta; m != nil {
			if err := tx.SetMeta(name, m.UIDValidity, m.UIDNext, m.HighestModSeq); err != nil {
				return err
			}
		}
		for _, p := range ch.PutPairs {
			if err := tx.PutPair(name, p); err != nil {
				return err
			}
		}
		for _, uid := range ch.DeletePairs {
			if err := tx.DeletePair(name, uid); err != nil {
				return err
			}
		}
		for _, in := range ch.PutIntents {
			if err := tx.PutIntent(name, in); err != nil {
				return err
			}
		}
		for _, k := range ch.DeleteIntents {
			if err := tx.DeleteIntent(name, k); err != nil {
				return err
			}
		}
		if len(ch.PutDownloads)+len(ch.DeleteDownloads) > 0 {
			b, err := tx.sub(name, bucketDownloads)
			if err != nil {
				return err
			}
			for _, in := range ch.PutDownloads {
				v, err := json.Marshal(model.DownloadIntent{Fingerprint: in.Fingerprint, Hash: in.Hash})
				if err != nil {
					return err
				}
				if err := b.Put(u32(uint32(in.UID)), v); err != nil {
					return err
				}
			}
			for _, uid := range ch.DeleteDownloads {
				if err := b.Delete(u32(uint32(uid))); err != nil {
					return err
				}
			}
		}
		if ch.SetUnkept {
			fb, err := tx.folder(name)
			if err != nil {
				return err
			}
			if err := fb.Put(keyUnkept, []byte{byte(ch.Unkept)}); err != nil {
				return err
			}
		}
		if ch.SetOneSided {
			fb, err := tx.folder(name)
			if err != nil {
				return err
			}
			if err := fb.Put(keyOneSided, []byte(strings.Join(ch.OneSided, " "))); err != nil {
				return err
			}
		}
		if ch.SetHeldBack {
			return tx.SetHeldBack(name, ch.HeldBack)
		}
		return nil
	})
}

// Forget deletes everything stored about folder name, in one Update.
func (d *DB) Forget(name string) error {
	return d.Update(func(tx *Tx) error { return tx.DeleteFolder(name) })
}

// Check verifies the database's internal consistency (for tests and
// `mailsync verify`).
func (d *DB) Check() (err error) {
	defer guard(d.path, d, &err)()
	return d.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		errs = append(errs, tx.Bucket(bucketFolders).ForEachBucket(func(name []byte) error {
			fb := tx.Bucket(bucketFolders).Bucket(name)
			v := fb.Get(keyPairCount)
			if v == nil || d.isMiscounted(string(name)) {
				return nil // not kept, or found wrong and counted anew at the next change
			}
			n := 0
			if pb := fb.Bucket(bucketPairs); pb != nil {
				n = pb.Stats().KeyN
			}
			if len(v) != 8 || binary.BigEndian.Uint64(v) != uint64(n) {
				return fmt.Errorf("folder %q: %d pairs, but %x stored as their number", name, n, v)
			}
			return nil
		}))
		return errors.Join(errs...)
	})
}

// Tx is a write transaction, valid only inside the function given to
// Update.
type Tx struct {
	tx *bolt.Tx
	d  *DB
	// recounted are the folders whose number of pairs the transaction
	// counted anew (countPairs): no longer miscounted once it commits.
	recounted []string
	// pairs counts the pairs written or deleted: a transaction that
	// went through many lets go of the pages it mapped in (Update).
	pairs int
}

func (t *Tx) folder(name string) (*bolt.Bucket, error) {
	if name == "" {
		return nil, errors.New("empty folder name")
	}
	return t.tx.Bucket(bucketFolders).CreateBucketIfNotExists([]byte(name))
}

func (t *Tx) sub(name string, sub []byte) (*bolt.Bucket, error) {
	fb, err := t.folder(name)
	if err != nil {
		return nil, err
	}
	return fb.CreateBucketIfNotExists(sub)
}

// SetMeta records the folder's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ.
func (t *Tx) SetMeta(name string, uidValidity uint32, uidNext model.UID, highestModSeq uint64) error {
	fb, err := t.folder(name)
	if err != nil {
		return err
	}
	if err := fb.Put(keyValidity, u32(uidValidity)); err != nil {
		return err
	}
	if err := fb.Put(keyUIDNext, u32(uint32(uidNext))); err != nil {
		return err
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, highestModSeq)
	return fb.Put(keyModSeq, b)
}

// PutPair adds or replaces the pair of p.UID.
func (t *Tx) PutPair(name string, p Pair) error {
	if p.UID == 0 || p.Key == "" {
		return fmt.Errorf("folder %q: invalid pair (uid %d, key %q)", name, p.UID, p.Key)
	}
	t.pairs++
	pb, err := t.sub(name, bucketPairs)
	if err != nil {
		return err
	}
	if pb.Get(u32(uint32(p.UID))) == nil {
		if err := t.countPairs(name, pb, 1); err != nil {
			return err
		}
	}
	// Pairs are mostly added in UID order (downloads, uploads) and then
	// rewritten in place at about the same size: full pages rather than
	// bbolt's default half-full ones halve the pages a Load reads.
	pb.FillPercent = pairsFillPercent
	cb, err := t.sub(name, bucketContent)
	if err != nil {
		return err
	}
	cb.FillPercent = pairsFillPercent
	return putPair(pb, cb, p)
}

// putPair writes p in the version 2 encoding into its folder's pairs
// and content buckets.
func putPair(pb, cb *bolt.Bucket, p Pair) error {
	k := u32(uint32(p.UID))
	pv, cv := encodePair(p)
	if err := pb.Put(k, pv); err != nil {
		return err
	}
	if cv == nil {
		return cb.Delete(k)
	}
	return cb.Put(k, cv)
}

// dropAfterPairs is how many pairs a transaction writes or deletes
// before Update lets go of the pages of the state file it mapped in
// (dropPages): a batch of downloads or flag changes goes through pages
// all over a folder's pairs, which would stay in the process's memory
// to the end of the run; a commit of a few pairs maps in a few pages,
// which are cheaper to keep than to map in again.
const dropAfterPairs = 32

// dropEveryPairs is how many pairs a walk over a folder's pairs reads
// between two dropPages: the pages it mapped in are let go of as it
// goes, not only at its end, so that a walk over the largest folder
// holds a slice of the state file in the process's memory, not all of
// that folder's pages (each fault maps in its neighbours too, other
// buckets' pages among them: a walk over 20,000 pairs held 5-7 MB).
// The pages stay in the page cache; the branch pages are mapped in
// again. Smaller costs CPU for little: over 60,000 messages, 2,048 left
// a server delta's peak as it was and took 15 % more CPU.
const dropEveryPairs = 4096

// pairsFillPercent is how full bbolt packs the pages of a pairs bucket.
const pairsFillPercent = 0.95

// DeletePair forgets the pair of uid.
func (t *Tx) DeletePair(name string, uid model.UID) error {
	t.pairs++
	pb, err := t.sub(name, bucketPairs)
	if err != nil {
		return err
	}
	if pb.Get(u32(uint32(uid))) != nil {
		if err := t.countPairs(name, pb, -1); err != nil {
			return err
		}
		if err := pb.Delete(u32(uint32(uid))); err != nil {
			return err
		}
	}
	fb, err := t.folder(name)
	if err != nil {
		return err
	}
	if cb := fb.Bucket(bucketContent); cb != nil {
		return cb.Delete(u32(uint32(uid)))
	}
	return nil
}

// ResetPairs forgets every pair of the folder (after a UIDVALIDITY change).
func (t *Tx) ResetPairs(name string) error {
	fb, err := t.folder(name)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{bucketPairs, bucketContent} {
		if fb.Bucket(b) != nil {
			if err := fb.DeleteBucket(b); err != nil {
				return err
			}
		}
	}
	if _, err = fb.CreateBucket(bucketPairs); err != nil {
		return err
	}
	t.recounted = append(t.recounted, name)
	return fb.Put(keyPairCount, u64(0))
}

// countPairs adds delta to the folder's number of pairs (PairCount),
// before the pair is added or deleted. A folder whose count is not
// stored yet (a state written by an older version) is counted first,
// from its pairs bucket as this transaction sees it: every later change
// of the transaction goes through here.
func (t *Tx) countPairs(name string, pb *bolt.Bucket, delta int) error {
	fb, err := t.folder(name)
	if err != nil {
		return err
	}
	var n uint64
	v := fb.Get(keyPairCount)
	trusted := len(v) == 8 && !(t.d != nil && t.d.isMiscounted(name) && !slices.Contains(t.recounted, name))
	if trusted {
		n = binary.BigEndian.Uint64(v)
	}
	if !trusted || delta < 0 && n == 0 {
		// Not kept, found wrong, or wrong now (a pair to delete, none
		// counted): counted anew, a walk of the bucket.
		n = 0
		if err := pb.ForEach(func(k, v []byte) error { n++; return nil }); err != nil {
			return err
		}
		t.recounted = append(t.recounted, name)
	}
	return fb.Put(keyPairCount, u64(uint64(int64(n)+int64(delta))))
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// PairCount is the number of stored pairs of folder name, kept by every
// change of its pairs; ok is false when it is not stored (the folder's
// pairs were not changed since a version that did not keep it): then
// count them.
func (d *DB) PairCount(name string) (n int, ok bool, err error) {
	defer guard(d.path, d, &err)()
	err = d.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
		if fb == nil {
			n, ok = 0, true
			return nil
		}
		if v := fb.Get(keyPairCount); len(v) == 8 && !d.isMiscounted(name) {
			n, ok = int(binary.BigEndian.Uint64(v)), true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("state %s: %w", d.path, err)
	}
	return n, ok, nil
}

// PutIntent records that the upload of in.Key is about to start.
func (t *Tx) PutIntent(name string, in Intent) error {
	ib, err := t.sub(name, bucketIntents)
	if err != nil {
		return err
	}
	v, err := json.Marshal(Intent{Fingerprint: in.Fingerprint, Hash: in.Hash, Created: in.Created})
	if err != nil {
		return err
	}
	return ib.Put([]byte(in.Key), v)
}

// SetHeldBack replaces the list of pairs whose deletion the mass-deletion
// guard holds back (empty: none).
func (t *Tx) SetHeldBack(name string, uids []model.UID) error {
	fb, err := t.folder(name)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		return fb.Delete(keyHeldBack)
	}
	v := make([]byte, 0, 4*len(uids))
	for _, u := range uids {
		v = binary.BigEndian.AppendUint32(v, uint32(u))
	}
	return fb.Put(keyHeldBack, v)
}

// DeleteIntent forgets the intent of key.
func (t *Tx) DeleteIntent(name, key string) error {
	ib, err := t.sub(name, bucketIntents)
	if err != nil {
		return err
	}
	return ib.Delete([]byte(key))
}

// DeleteFolder forgets everything about a folder.
func (t *Tx) DeleteFolder(name string) error {
	err := t.tx.Bucket(bucketFolders).DeleteBucket([]byte(name))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

func u32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

// PairKeys calls fn with the UID and Maildir key of every stored pair of
// folder name, in UID order, decoding nothing else of the pairs (key is
// valid only during the call).
func (d *DB) PairKeys(name string, fn func(uid model.UID, key []byte)) error {
	return d.walkPairs(name, func(uid model.UID, key, _ []byte) error {
		fn(uid, key)
		return nil
	})
}

// PairSummaries calls fn with the Maildir key (valid only during the
// call) and the pair of every stored pair of folder name, in UID order,
// the pair without its Key, Hash and Fingerprint: what a quick pass
// compares with the folder's files, with no string made but the
// keywords'.
func (d *DB) PairSummaries(name string, fn func(key []byte, p model.Pair)) error {
	return d.walkPairs(name, func(uid model.UID, key, v []byte) error {
		p, err := decodeSummary(v)
		if err != nil {
			return fmt.Errorf("folder %q: corrupt pair entry", name)
		}
		p.UID = uid
		fn(key, p)
		return nil
	})
}

// walkPairs calls fn with the UID, key and value of every stored pair of
// folder name, in UID order, and then lets go of the pages it mapped in.
func (d *DB) walkPairs(name string, fn func(uid model.UID, key, v []byte) error) (err error) {
	defer guard(d.path, d, &err)()
	miscounted := false
	err = d.db.View(func(tx *bolt.Tx) error {
		pb := pairsBucket(tx, name)
		if pb == nil {
			return nil
		}
		defer dropPages(d.db, tx)
		walked := 0
		err := pb.ForEach(func(k, v []byte) error {
			if walked++; walked%dropEveryPairs == 0 {
				dropPages(d.db, tx)
			}
			key, err := pairKey(v)
			if len(k) != 4 || err != nil {
				return fmt.Errorf("folder %q: corrupt pair entry", name)
			}
			return fn(model.UID(binary.BigEndian.Uint32(k)), key, v)
		})
		miscounted = err == nil && !countIs(tx, name, walked)
		return err
	})
	if err != nil {
		return fmt.Errorf("state %s: %w", d.path, err)
	}
	if miscounted {
		d.markMiscounted(name)
	}
	return nil
}

// countIs says whether folder name's stored number of pairs is n, or
// not stored.
func countIs(tx *bolt.Tx, name string, n int) bool {
	fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
	if fb == nil {
		return true
	}
	v := fb.Get(keyPairCount)
	return v == nil || len(v) == 8 && binary.BigEndian.Uint64(v) == uint64(n)
}

// markMiscounted notes that a walk over folder name's pairs found their
// stored number wrong: a version of mailsync that does not keep it
// changed them since. PairCount says it is not known, and the next
// transaction that changes the folder's pairs, or records its Skip
// record, counts them anew (countPairs). Nothing is written here: a
// walk may be part of a dry run.
func (d *DB) markMiscounted(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.miscounted == nil {
		d.miscounted = map[string]bool{}
	}
	d.miscounted[name] = true
}

// isMiscounted says whether markMiscounted noted folder name.
func (d *DB) isMiscounted(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.miscounted[name]
}

// toSchema2 rewrites every pair of a schema 1 state in the version 2
// encoding (its hashes in the content bucket), in the transaction that
// records schema 2: a crash leaves the state as it was.
func toSchema2(folders *bolt.Bucket) error {
	var names [][]byte
	if err := folders.ForEach(func(k, v []byte) error {
		if v == nil {
			names = append(names, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		fb := folders.Bucket(name)
		pb := fb.Bucket(bucketPairs)
		if pb == nil {
			continue
		}
		var pairs []Pair
		err := pb.ForEach(func(k, v []byte) error {
			p, err := decodePair(v)
			if len(k) != 4 || err != nil {
				return fmt.Errorf("folder %q: corrupt pair entry", name)
			}
			p.UID = model.UID(binary.BigEndian.Uint32(k))
			pairs = append(pairs, p)
			return nil
		})
		if err != nil {
			return err
		}
		// Written afresh in UID order, full pages: values rewritten in
		// place at half their size would leave the pages half empty.
		if err := fb.DeleteBucket(bucketPairs); err != nil {
			return err
		}
		if pb, err = fb.CreateBucket(bucketPairs); err != nil {
			return err
		}
		cb, err := fb.CreateBucketIfNotExists(bucketContent)
		if err != nil {
			return err
		}
		pb.FillPercent, cb.FillPercent = pairsFillPercent, pairsFillPercent
		for _, p := range pairs {
			if err := putPair(pb, cb, p); err != nil {
				return err
			}
		}
	}
	return nil
}
