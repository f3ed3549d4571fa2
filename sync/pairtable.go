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
// open-addressing hash table over chunks of keys. It costs about 100
// bytes per pair (a folder of 30,000 messages: 3 MB), against about
// 1 KiB per message for the decoded pairs and listing of a whole pass.
type pairTable struct {
	ents []pairSum // in UID order (the order the state gives)
	// keys holds every key, one after the other, in chunks of keyChunk
	// bytes (no key spans two): growing never copies them.
	keys   [][]byte
	slots  []int32          // index in ents + 1; 0: empty
	kws    []model.Keywords // the pairs' keywords (few pairs have any)
	spare  [][]byte         // chunks of keys to use again (reset)
	uidBuf []model.UID      // uids' result
	seed   maphash.Seed
	// dupKey: two pairs name one key (a whole pass's work: plan.Edits).
	dupKey bool
}

// pairSum is one pair of a pairTable.
type pairSum struct {
	ino         uint64
	size, mtime int64
	uid         model.UID
	keyOff      uint32
	kw          int32 // index in kws + 1; 0: none
	keyLen      uint8 // a file name is at most 255 bytes (add refuses longer keys)
	flags       model.Flags
	// What the pass found: the server changed the message (or expunged
	// it), its file changed, its file was seen.
	server, local, seen bool
}

// keyChunk is the size of pairTable's chunks of keys (a key is at most
// 255 bytes, as a file name on the file systems Linux has: add refuses
// longer ones).
const keyChunk = 1 << 18

// grow makes room for n pairs (the folder's number of messages, as
// last known): ents growing by appends would allocate and copy it
// twice over.
func (t *pairTable) grow(n int) { t.ents = slices.Grow(t.ents, n) }

// add appends a pair, as statedb.PairSummaries gives them. A key longer
// than a file name can be (a damaged state) sets dupKey: the pass is a
// whole one.
func (t *pairTable) add(key []byte, p model.Pair) {
	if len(key) > 255 {
		t.dupKey = true
		return
	}
	var kw int32
	if len(p.Keywords) > 0 {
		t.kws = append(t.kws, p.Keywords)
		kw = int32(len(t.kws))
	}
	last := len(t.keys) - 1
	if last < 0 || len(t.keys[last])+len(key) > cap(t.keys[last]) {
		if n := len(t.spare); n > 0 {
			t.keys = append(t.keys, t.spare[n-1][:0])
			t.spare = t.spare[:n-1]
		} else {
			t.keys = append(t.keys, make([]byte, 0, keyChunk))
		}
		last++
	}
	off := uint32(last)*keyChunk + uint32(len(t.keys[last]))
	t.keys[last] = append(t.keys[last], key...)
	t.ents = append(t.ents, pairSum{ino: p.Ino, size: p.Size, mtime: p.ModTime, kw: kw, uid: p.UID,
		keyOff: off, keyLen: uint8(len(key)), flags: p.Flags})
}

// reset empties the table and keeps its memory for the next folder: a
// run plans one folder at a time (engine.planning), and memory used
// again costs no page faults, which on a VM take tens of microseconds
// each (a folder of 30,000 messages: about 700 pages).
func (t *pairTable) reset() {
	t.ents = t.ents[:0]
	t.spare = append(t.spare, t.keys...)
	t.keys = t.keys[:0]
	clear(t.kws)
	t.kws = t.kws[:0]
	t.dupKey = false
}

// index builds the hash table, once every pair is added.
func (t *pairTable) index() {
	t.seed = maphash.MakeSeed()
	n := 1 << bits.Len(uint(2*len(t.ents)+1))
	if cap(t.slots) >= n {
		t.slots = t.slots[:n]
		clear(t.slots)
	} else {
		t.slots = make([]int32, n)
	}
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
	return t.keys[e.keyOff/keyChunk][off : off+uint32(e.keyLen)]
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

// uids returns the pairs' UIDs, in order (valid until reset).
func (t *pairTable) uids() []model.UID {
	t.uidBuf = slices.Grow(t.uidBuf[:0], len(t.ents))
	for _, e := range t.ents {
		t.uidBuf = append(t.uidBuf, e.uid)
	}
	return t.uidBuf
}

// pair returns e as a model.Pair (without the key and content hashes),
// for plan.LocalUnchanged.
func (t *pairTable) pair(e *pairSum) model.Pair {
	p := model.Pair{UID: e.uid, Flags: e.flags, Size: e.size, ModTime: e.mtime, Ino: e.ino}
	if e.kw > 0 {
		p.Keywords = t.kws[e.kw-1]
	}
	return p
}
