package plan

import "github.com/mailsync/mailsync/model"

// index finds an Input's messages and stored pairs by key and by UID.
// The steps of one pass (NeedEditCheck, NeedFingerprints, NeedHashes,
// Build) share it instead of building maps of their own: in a folder of
// tens of thousands of messages those maps were most of a pass's memory
// and time. It maps to positions in the Input's slices, so that content
// fields the engine fills in between the steps (in place) are seen. It
// is built on first use and again whenever a listing or the pairs are
// not the slices it was built from.
type index struct {
	local                   *model.LocalMsg // the slices it was built from (first element)
	remote                  *model.RemoteMsg
	pairs                   *model.Pair
	nLocal, nRemote, nPairs int

	localByKey  map[string]int32
	remoteByUID map[model.UID]int32
	pairByKey   map[string]int32 // the last pair naming the key
	pairByUID   map[model.UID]int32
}

func first[T any](s []T) *T {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func (in *Input) pairs() []model.Pair {
	if in.State == nil {
		return nil
	}
	return in.State.Pairs
}

// idx returns the Input's index, building it when needed.
func (in *Input) idx() *index {
	pairs := in.pairs()
	if ix := in.ix; ix != nil && ix.local == first(in.Local) && ix.nLocal == len(in.Local) &&
		ix.remote == first(in.Remote) && ix.nRemote == len(in.Remote) && ix.pairs == first(pairs) && ix.nPairs == len(pairs) {
		return ix
	}
	ix := &index{local: first(in.Local), remote: first(in.Remote), pairs: first(pairs),
		nLocal: len(in.Local), nRemote: len(in.Remote), nPairs: len(pairs),
		localByKey: make(map[string]int32, len(in.Local)), remoteByUID: make(map[model.UID]int32, len(in.Remote)),
		pairByKey: make(map[string]int32, len(pairs)), pairByUID: make(map[model.UID]int32, len(pairs))}
	for i := range in.Local {
		ix.localByKey[in.Local[i].Key] = int32(i)
	}
	for i := range in.Remote {
		ix.remoteByUID[in.Remote[i].UID] = int32(i)
	}
	for i := range pairs {
		ix.pairByKey[pairs[i].Key] = int32(i)
		ix.pairByUID[pairs[i].UID] = int32(i)
	}
	in.ix = ix
	return ix
}

// LocalMsg returns the Maildir message with the key, as the listing
// (with what was filled in since) has it.
func (in *Input) LocalMsg(key string) (model.LocalMsg, bool) {
	if i, ok := in.idx().localByKey[key]; ok {
		return in.Local[i], true
	}
	return model.LocalMsg{}, false
}

// RemoteMsg returns the server message with the UID.
func (in *Input) RemoteMsg(uid model.UID) (model.RemoteMsg, bool) {
	if i, ok := in.idx().remoteByUID[uid]; ok {
		return in.Remote[i], true
	}
	return model.RemoteMsg{}, false
}

// StoredPair returns the stored pair of the UID.
func (in *Input) StoredPair(uid model.UID) (model.Pair, bool) {
	if i, ok := in.idx().pairByUID[uid]; ok {
		return in.State.Pairs[i], true
	}
	return model.Pair{}, false
}

// pairOfKey returns the (last) stored pair naming the key.
func (in *Input) pairOfKey(key string) (model.Pair, bool) {
	if i, ok := in.idx().pairByKey[key]; ok {
		return in.State.Pairs[i], true
	}
	return model.Pair{}, false
}

// hasLocal reports whether the Maildir listing has the key.
func (in *Input) hasLocal(key string) bool {
	_, ok := in.idx().localByKey[key]
	return ok
}

// Remotes finds server messages by UID, Locals Maildir messages by key:
// what Edits and DiffPairs look things up in (an Input, or a map in
// their tests).
type (
	Remotes func(model.UID) (model.RemoteMsg, bool)
	Locals  func(string) (model.LocalMsg, bool)
)

// RemoteMap and LocalMap look things up in maps.
func RemoteMap(m map[model.UID]model.RemoteMsg) Remotes {
	return func(u model.UID) (model.RemoteMsg, bool) { r, ok := m[u]; return r, ok }
}

func LocalMap(m map[string]model.LocalMsg) Locals {
	return func(k string) (model.LocalMsg, bool) { l, ok := m[k]; return l, ok }
}
