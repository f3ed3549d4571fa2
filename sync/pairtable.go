package sync

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"slices"

	"github.com/mailsync/mailsync/model"
)

// pairTable holds what a quick pass compares the Maildir's files with:
// a summary of every stored pair of a folder (statedb.PairSummaries:
// flags, keywords, size, mtime, inode), found by key through an
// open-addressing hash table over one byte slice of keys. It costs about
// 100 bytes per pair (a folder of 30,000 messages: 3 MB), against about
// 1 KiB per message for the decoded pairs and listing of a whole pass.
type pairTable struct {
	ents []pairSum // in UID order (the order the state gives)
	// keys holds every key, one after the other, in chunks of keyChunk
	// bytes (no key spans two): growing never copies them.
	keys  [][]byte
	slots []int32 // index in ents + 1; 0: empty
	seed  maphash.Seed
	// dupKey: two pairs name one key (a whole pass's work: plan.Edits).
	dupKey bool
}

// pairSum is one pair of a pairTable.
type pairSum struct {
	ino         uint64
	size, mtime int64
	kw          model.Keywords
	uid         model.UID
	keyOff      uint32
	keyLen      uint32
	flags       model.Flags
	// What the pass found: the server changed the message (or expunged
	// it), its file changed, its file was seen.
	server, local, seen bool
}

// keyChunk is the size of pairTable's chunks of keys (a Maildir file
// name is at most 255 bytes on the file systems Linux has).
const keyChunk = 1 << 18

// grow makes room for n pairs (the folder's number of messages, as
// last known): ents growing by appends would allocate and copy it
// twice over.
func (t *pairTable) grow(n int) { t.ents = slices.Grow(t.ents, n) }

// add appends a pair, as statedb.PairSummaries gives them.
func (t *pairTable) add(key []byte, p model.Pair) {
	last := len(t.keys) - 1
	if last < 0 || len(t.keys[last])+len(key) > cap(t.keys[last]) {
		t.keys = append(t.keys, make([]byte, 0, max(keyChunk, len(key))))
		last++
	}
	off := uint32(last)*keyChunk + uint32(len(t.keys[last]))
	t.keys[last] = append(t.keys[last], key...)
	t.ents = append(t.ents, pairSum{ino: p.Ino, size: p.Size, mtime: p.ModTime, kw: p.Keywords, uid: p.UID,
		keyOff: off, keyLen: uint32(len(key)), flags: p.Flags})
}

// index builds the hash table, once every pair is added.
func (t *pairTable) index() {
	t.seed = maphash.MakeSeed()
	n := 1 << bits.Len(uint(2*len(t.ents)+1))
	t.slots = make([]int32, n)
	for i := range t.ents {
		s, found := t.slot(t.key(i))
		if found {
			t.dupKey = true
			continue
		}
		t.slots[s] = int32(i + 1)
	}
}

func (t *pairTable) key(i int) []byte {
	e := &t.ents[i]
	off := e.keyOff % keyChunk
	return t.keys[e.keyOff/keyChunk][off : off+e.keyLen]
}

// slot returns the slot of key: the one holding it (found) or the empty
// one where it would go.
func (t *pairTable) slot(key []byte) (int, bool) {
	mask := len(t.slots) - 1
	for s := int(maphash.Bytes(t.seed, key)) & mask; ; s = (s + 1) & mask {
		i := t.slots[s]
		if i == 0 {
			return s, false
		}
		if bytes.Equal(t.key(int(i-1)), key) {
			return s, true
		}
	}
}

// find returns the pair of key, or nil.
func (t *pairTable) find(key []byte) *pairSum {
	s, found := t.slot(key)
	if !found {
		return nil
	}
	return &t.ents[t.slots[s]-1]
}

// uids returns the pairs' UIDs, in order.
func (t *pairTable) uids() []model.UID {
	out := make([]model.UID, len(t.ents))
	for i, e := range t.ents {
		out[i] = e.uid
	}
	return out
}

// pair returns e as a model.Pair (without the key and content hashes),
// for plan.LocalUnchanged.
func (e *pairSum) pair() model.Pair {
	return model.Pair{UID: e.uid, Flags: e.flags, Keywords: e.kw, Size: e.size, ModTime: e.mtime, Ino: e.ino}
}
