package serve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The UID index is a bbolt file owned by serve alone (sync keeps its own
// state elsewhere). Layout:
//
//	meta/lastvalidity           uint32: the last UIDVALIDITY handed out
//	folders/<name>/validity     uint32
//	folders/<name>/uidnext      uint32: never decreases, so no UID is reused
//	folders/<name>/uids/<key>   uint32: Maildir key -> UID
//	folders/<name>/firstrecent  uint32: lowest UID not yet claimed as \Recent
//	folders/<name>/highestmodseq uint64: CONDSTORE's HIGHESTMODSEQ
//	folders/<name>/modseqs/<key> uint64 MODSEQ + the info part it was
//	                            given for: a file found with other info
//	                            (changed while serve was not running)
//	                            gets a new MODSEQ
//	subscriptions/<name>        empty
//
// UIDVALIDITY values come from one counter for the whole index (at least
// the current Unix time, and always above the last one handed out), so a
// folder that is deleted, renamed or recreated never gets a UIDVALIDITY
// it had before.

var (
	bucketMeta          = []byte("meta")
	bucketFolders       = []byte("folders")
	bucketSubscriptions = []byte("subscriptions")
	bucketUIDs          = []byte("uids")
	bucketModSeqs       = []byte("modseqs")

	keyLastValidity = []byte("lastvalidity")
	keyValidity     = []byte("validity")
	keyUIDNext      = []byte("uidnext")
	keyFirstRecent  = []byte("firstrecent")
	keyHighestMod   = []byte("highestmodseq")
)

// ErrIndexInUse is returned by New when another process holds the index.
var ErrIndexInUse = errors.New("index is already in use by another mailsync serve")

type index struct {
	db *bolt.DB
}

func openIndex(path string, timeout time.Duration) (*index, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open index %s: %w", path, ErrIndexInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketFolders, bucketSubscriptions} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise index %s: %w", path, err)
	}
	return &index{db: db}, nil
}

func (x *index) close() error { return x.db.Close() }

func u32(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func u32b(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

// folderState is what the index knows of one folder.
type folderState struct {
	validity    uint32
	uidNext     uint32
	firstRecent uint32
	uids        map[string]uint32
	highestMod  uint64
	mods        map[string]modRec
}

// modRec is a message's MODSEQ and the info part of its file name when
// it got it.
type modRec struct {
	modSeq uint64
	info   string
}

func (r modRec) bytes() []byte {
	b := make([]byte, 8+len(r.info))
	binary.BigEndian.PutUint64(b, r.modSeq)
	copy(b[8:], r.info)
	return b
}

func parseModRec(b []byte) modRec {
	if len(b) < 8 {
		return modRec{}
	}
	return modRec{modSeq: binary.BigEndian.Uint64(b), info: string(b[8:])}
}

func u64b(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// loadFolder returns the folder's state, creating it with a fresh
// UIDVALIDITY when the index does not know the folder.
func (x *index) loadFolder(name string) (*folderState, error) {
	st := &folderState{uids: make(map[string]uint32), mods: make(map[string]modRec)}
	err := x.db.Update(func(tx *bolt.Tx) error {
		folders := tx.Bucket(bucketFolders)
		b := folders.Bucket([]byte(name))
		if b == nil {
			var err error
			if b, err = folders.CreateBucket([]byte(name)); err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			v := uint32(time.Now().Unix())
			if last := u32(meta.Get(keyLastValidity)); v <= last {
				v = last + 1
			}
			if err := meta.Put(keyLastValidity, u32b(v)); err != nil {
				return err
			}
			if err := b.Put(keyValidity, u32b(v)); err != nil {
				return err
			}
			if err := b.Put(keyUIDNext, u32b(1)); err != nil {
				return err
			}
			if _, err := b.CreateBucket(bucketUIDs); err != nil {
				return err
			}
		}
		st.validity = u32(b.Get(keyValidity))
		st.uidNext = u32(b.Get(keyUIDNext))
		if st.uidNext == 0 {
			st.uidNext = 1
		}
		st.firstRecent = u32(b.Get(keyFirstRecent))
		if st.firstRecent == 0 {
			st.firstRecent = 1
		}
		st.highestMod = u64(b.Get(keyHighestMod))
		if mods := b.Bucket(bucketModSeqs); mods != nil {
			mods.ForEach(func(k, v []byte) error {
				st.mods[string(k)] = parseModRec(v)
				return nil
			})
		}
		uids := b.Bucket(bucketUIDs)
		if uids == nil {
			return fmt.Errorf("folder %q has no uids bucket", name)
		}
		return uids.ForEach(func(k, v []byte) error {
			st.uids[string(k)] = u32(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index: load folder %q: %w", name, err)
	}
	return st, nil
}

// commitFolder records new and removed keys of a folder, its UIDNEXT,
// new MODSEQs and HIGHESTMODSEQ in one transaction.
func (x *index) commitFolder(name string, added map[string]uint32, removed []string, uidNext uint32, mods map[string]modRec, highestMod uint64) error {
	err := x.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFolders).Bucket([]byte(name))
		if b == nil {
			return fmt.Errorf("folder is not in the index")
		}
		mb, err := b.CreateBucketIfNotExists(bucketModSeqs)
		if err != nil {
			return err
		}
		for k, r := range mods {
			if err := mb.Put([]byte(k), r.bytes()); err != nil {
				return err
			}
		}
		for _, k := range removed {
			if err := mb.Delete([]byte(k)); err != nil {
				return err
			}
		}
		if highestMod > u64(b.Get(keyHighestMod)) {
			if err := b.Put(keyHighestMod, u64b(highestMod)); err != nil {
				return err
			}
		}
		uids := b.Bucket(bucketUIDs)
		for k, uid := range added {
			if err := uids.Put([]byte(k), u32b(uid)); err != nil {
				return err
			}
		}
		for _, k := range removed {
			if err := uids.Delete([]byte(k)); err != nil {
				return err
			}
		}
		if u32(b.Get(keyUIDNext)) < uidNext {
			return b.Put(keyUIDNext, u32b(uidNext))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: update folder %q: %w", name, err)
	}
	return nil
}

// forgetFolder drops a folder's UIDs; the next load gives it a new
// UIDVALIDITY.
func (x *index) forgetFolder(names ...string) error {
	return x.db.Update(func(tx *bolt.Tx) error {
		folders := tx.Bucket(bucketFolders)
		for _, name := range names {
			if folders.Bucket([]byte(name)) == nil {
				continue
			}
			if err := folders.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("index: forget folder %q: %w", name, err)
			}
		}
		return nil
	})
}

// setFirstRecent records the lowest UID of the folder not yet claimed
// as \Recent.
func (x *index) setFirstRecent(name string, uid uint32) error {
	err := x.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFolders).Bucket([]byte(name))
		if b == nil {
			return fmt.Errorf("folder is not in the index")
		}
		return b.Put(keyFirstRecent, u32b(uid))
	})
	if err != nil {
		return fmt.Errorf("index: update folder %q: %w", name, err)
	}
	return nil
}

func (x *index) setSubscribed(name string, on bool) error {
	return x.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		if on {
			return b.Put([]byte(name), nil)
		}
		return b.Delete([]byte(name))
	})
}

// renameSubscriptions moves the subscriptions of old and its children to
// new.
func (x *index) renameSubscriptions(old, new string) error {
	return x.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		var move []string
		b.ForEach(func(k, _ []byte) error {
			n := string(k)
			if n == old || (len(n) > len(old) && n[:len(old)+1] == old+"/") {
				move = append(move, n)
			}
			return nil
		})
		for _, n := range move {
			if err := b.Delete([]byte(n)); err != nil {
				return err
			}
			if err := b.Put([]byte(new+n[len(old):]), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (x *index) subscriptions() (map[string]bool, error) {
	m := make(map[string]bool)
	err := x.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, _ []byte) error {
			m[string(k)] = true
			return nil
		})
	})
	return m, err
}
