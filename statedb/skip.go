package statedb

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/mailsync/mailsync/model"
)

// keySkip holds a folder's Skip record (see Skip): what both sides looked
// like at the end of the last sync that left the folder fully in step.
var keySkip = []byte("skip")

// keySkipExact holds, when the folder's Skip record is Exact, a copy of
// that record: a record written by a version that knows nothing of
// Exact (or any other record) differs from the copy, so Exact is never
// read from a stale key. It is "skipexact2": the versions that wrote
// "skipexact" (keySkipExactV1) did not keep the number of pairs
// (PairCount), which a pass that trusts an Exact record trusts too, so a
// record they wrote is not Exact here. Both are deleted with the record.
var keySkipExact = []byte("skipexact2")

// keySkipExactV1 is keySkipExact as versions before the number of pairs
// was kept named it.
var keySkipExactV1 = []byte("skipexact")

// Skip is what a folder looked like when a sync last left it fully in
// step with its state: the server's STATUS values and the modification
// times (nanoseconds since the epoch) of the Maildir folder's new/ and
// cur/. A zero field means "unknown": the record then proves nothing
// about that side. The engine compares it with the folder's current
// values to skip a folder in which nothing changed (sync/plan.Skip).
//
// Every Commit to a folder deletes its Skip record in the same
// transaction: a record is only ever as new as the last change to the
// folder's state, so a run interrupted after changing the state never
// leaves a record that claims the folder is in step.
type Skip struct {
	UIDValidity   uint32
	UIDNext       model.UID
	Messages      uint32
	HighestModSeq uint64
	NewMtime      int64
	CurMtime      int64
	// Listed is when the folder was last listed in full (Unix
	// nanoseconds; 0 in records of versions before it).
	Listed int64
	// Exact: at those mtimes the Maildir folder held exactly one file
	// per stored pair and no other message file.
	Exact bool
}

// skipLen is the length of a record; oldSkipLen that of the records
// written before Listed (read with Listed 0).
const (
	oldSkipLen = 4 + 4 + 4 + 8 + 8 + 8
	skipLen    = oldSkipLen + 8
)

// encode encodes s but Exact (keySkipExact).
func (s Skip) encode() []byte {
	b := make([]byte, 0, skipLen)
	b = binary.BigEndian.AppendUint32(b, s.UIDValidity)
	b = binary.BigEndian.AppendUint32(b, uint32(s.UIDNext))
	b = binary.BigEndian.AppendUint32(b, s.Messages)
	b = binary.BigEndian.AppendUint64(b, s.HighestModSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(s.NewMtime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.CurMtime))
	return binary.BigEndian.AppendUint64(b, uint64(s.Listed))
}

func decodeSkip(v []byte) (Skip, bool) {
	if len(v) != skipLen && len(v) != oldSkipLen {
		return Skip{}, false
	}
	var listed int64
	if len(v) == skipLen {
		listed = int64(binary.BigEndian.Uint64(v[36:]))
	}
	return Skip{
		Listed:        listed,
		UIDValidity:   binary.BigEndian.Uint32(v[0:]),
		UIDNext:       model.UID(binary.BigEndian.Uint32(v[4:])),
		Messages:      binary.BigEndian.Uint32(v[8:]),
		HighestModSeq: binary.BigEndian.Uint64(v[12:]),
		NewMtime:      int64(binary.BigEndian.Uint64(v[20:])),
		CurMtime:      int64(binary.BigEndian.Uint64(v[28:])),
	}, true
}

// SkipInfo is what LoadSkip reads of a folder: its Skip record and
// whether work is pending in its state, without decoding a single pair.
type SkipInfo struct {
	Skip Skip // zero when none is recorded
	// Pending: upload or download intents are stored, deletions are
	// held back, or flags the server cannot keep were reported: a sync
	// of the folder has something to finish or to say.
	Pending bool
}

// LoadSkip reads a folder's Skip record and whether work is pending in
// its state (see SkipInfo). It reads a handful of keys whatever the size
// of the folder. A folder never synced comes back zero.
func (d *DB) LoadSkip(name string) (si SkipInfo, err error) {
	defer guard(d.path, d, &err)()
	err = d.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
		if fb == nil {
			return nil
		}
		if v := fb.Get(keySkip); v != nil {
			s, ok := decodeSkip(v)
			if !ok {
				return fmt.Errorf("folder %q: corrupt skip record", name)
			}
			s.Exact = string(fb.Get(keySkipExact)) == string(v)
			si.Skip = s
		}
		nonEmpty := func(sub []byte) bool {
			b := fb.Bucket(sub)
			if b == nil {
				return false
			}
			k, _ := b.Cursor().First()
			return k != nil
		}
		v := fb.Get(keyUnkept)
		si.Pending = nonEmpty(bucketIntents) || nonEmpty(bucketDownloads) || len(fb.Get(keyHeldBack)) > 0 ||
			(len(v) == 1 && v[0] != 0)
		return nil
	})
	if err != nil {
		return SkipInfo{}, fmt.Errorf("state %s: %w", d.path, err)
	}
	return si, nil
}

// SetSkip records a folder's Skip record, in one transaction of its
// own, unless the same record is stored already and meta is nil (then
// nothing is written). A zero record deletes the stored one. With meta,
// the folder's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ are recorded in
// the same transaction (as Commit with StateChange.Meta would, but
// without deleting the Skip record).
func (d *DB) SetSkip(name string, s Skip, meta *model.Meta) (err error) {
	v := s.encode()
	same := false
	err = func() (err error) {
		defer guard(d.path, d, &err)()
		return d.db.View(func(tx *bolt.Tx) error {
			fb := tx.Bucket(bucketFolders).Bucket([]byte(name))
			if fb == nil {
				same = s == Skip{}
				return nil
			}
			old := fb.Get(keySkip)
			exact := old != nil && string(fb.Get(keySkipExact)) == string(old)
			same = string(old) == string(v) && exact == s.Exact || (old == nil && s == Skip{})
			return nil
		})
	}()
	miscounted := d.isMiscounted(name)
	if err != nil || (same && meta == nil && !miscounted) {
		return err
	}
	return d.Update(func(tx *Tx) error {
		if miscounted {
			// Counted anew before a record that may be Exact: a pass
			// that trusts an Exact record trusts the number too.
			pb, err := tx.sub(name, bucketPairs)
			if err != nil {
				return err
			}
			if err := tx.countPairs(name, pb, 0); err != nil {
				return err
			}
		}
		if meta != nil {
			if err := tx.SetMeta(name, meta.UIDValidity, meta.UIDNext, meta.HighestModSeq); err != nil {
				return err
			}
		}
		fb, err := tx.folder(name)
		if err != nil {
			return err
		}
		if s == (Skip{}) {
			return deleteSkip(fb)
		}
		if err := fb.Put(keySkip, v); err != nil {
			return err
		}
		if err := fb.Delete(keySkipExactV1); err != nil {
			return err
		}
		if !s.Exact {
			return fb.Delete(keySkipExact)
		}
		return fb.Put(keySkipExact, v)
	})
}

// deleteSkip deletes a folder's Skip record.
func deleteSkip(fb *bolt.Bucket) error {
	for _, k := range [][]byte{keySkip, keySkipExact, keySkipExactV1} {
		if err := fb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// clearSkip deletes a folder's Skip record (Commit calls it).
func (t *Tx) clearSkip(name string) error {
	fb := t.tx.Bucket(bucketFolders).Bucket([]byte(name))
	if fb == nil || fb.Get(keySkip) == nil && fb.Get(keySkipExact) == nil && fb.Get(keySkipExactV1) == nil {
		return nil
	}
	return deleteSkip(fb)
}
