package plan

import (
	"cmp"
	"slices"
	"sort"

	"github.com/mailsync/mailsync/model"
)

// ListingMode is how to list a folder's server messages.
type ListingMode int

// The listing modes.
const (
	// ListFull: fetch the flags of every message.
	ListFull ListingMode = iota + 1
	// ListFromState: nothing changed since the last run (same
	// HIGHESTMODSEQ, UIDNEXT and message count): the stored pairs are
	// the listing, and nothing is sent.
	ListFromState
	// ListChanged: fetch only what changed since the stored
	// HIGHESTMODSEQ (CHANGEDSINCE) plus the list of UIDs, and merge them
	// with the stored pairs (Merge).
	ListChanged
)

// Listing decides how to list a folder: the CONDSTORE shortcut needs the
// capability, a stored and a current HIGHESTMODSEQ, and an unchanged
// UIDVALIDITY.
func Listing(condStore bool, st *model.FolderState, s model.FolderStatus) ListingMode {
	if !condStore || st.HighestModSeq == 0 || s.HighestModSeq == 0 || st.UIDValidity != s.UIDValidity {
		return ListFull
	}
	if s.HighestModSeq == st.HighestModSeq && s.UIDNext == st.UIDNext && int(s.Messages) == len(st.Pairs) {
		return ListFromState
	}
	return ListChanged
}

// FromState is the listing the stored pairs make, sorted by UID.
func FromState(st *model.FolderState) []model.RemoteMsg {
	out := make([]model.RemoteMsg, 0, len(st.Pairs))
	for _, p := range st.Pairs {
		out = append(out, model.RemoteMsg{UID: p.UID, Flags: p.Flags, Keywords: p.Keywords})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// Merge builds a ListChanged listing: the server's current uids, each
// with the flags changed reports or else the stored pair's flags. uids is
// the server's whole list: nil or empty means the folder is empty. ok is
// false when some UID is neither paired nor reported as changed (an
// unpaired message from an earlier interrupted run): the folder must
// then be listed in full.
func Merge(st *model.FolderState, changed []model.RemoteMsg, uids []model.UID) (out []model.RemoteMsg, ok bool) {
	// Sorted walks, no maps: a large folder costs its output only.
	byUID := func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) }
	if !slices.IsSortedFunc(changed, byUID) {
		changed = slices.Clone(changed)
		slices.SortStableFunc(changed, byUID) // a later report of a UID wins
	}
	pairs := st.Pairs
	pairOrder := func(a, b model.Pair) int { return cmp.Compare(a.UID, b.UID) }
	if !slices.IsSortedFunc(pairs, pairOrder) {
		pairs = slices.Clone(pairs)
		slices.SortFunc(pairs, pairOrder)
	}
	if !slices.IsSorted(uids) {
		uids = slices.Clone(uids)
		slices.Sort(uids)
	}
	out = make([]model.RemoteMsg, 0, len(uids))
	i, j := 0, 0
	for k, uid := range uids {
		if k > 0 && uids[k-1] == uid {
			continue
		}
		for j < len(changed) && changed[j].UID < uid {
			j++
		}
		if j < len(changed) && changed[j].UID == uid {
			for j+1 < len(changed) && changed[j+1].UID == uid {
				j++
			}
			out = append(out, changed[j])
			continue
		}
		for i < len(pairs) && pairs[i].UID < uid {
			i++
		}
		if i < len(pairs) && pairs[i].UID == uid {
			out = append(out, model.RemoteMsg{UID: uid, Flags: pairs[i].Flags, Keywords: pairs[i].Keywords})
			continue
		}
		return nil, false
	}
	return out, true
}

// RecordMeta decides what to record once a pass has applied everything
// up to the status seen at SELECT: nil when nothing needs writing. A new
// UIDVALIDITY is always recorded. UIDNEXT and HIGHESTMODSEQ serve only
// the CONDSTORE shortcut (Listing), so without CONDSTORE they are not
// rewritten: our own uploads move UIDNEXT on after the SELECT, and
// recording it would make the next run of an unchanged folder write the
// state again.
func RecordMeta(condStore bool, st *model.FolderState, s model.FolderStatus) *model.Meta {
	if st.UIDValidity == s.UIDValidity && (!condStore || (st.UIDNext == s.UIDNext && st.HighestModSeq == s.HighestModSeq)) {
		return nil
	}
	return &model.Meta{UIDValidity: s.UIDValidity, UIDNext: s.UIDNext, HighestModSeq: s.HighestModSeq}
}

// FirstSync reports whether the state knows nothing of the folder:
// never synced, no pair, no upload or download started, nothing held
// back. Into an empty Maildir folder such a folder's first sync can be
// planned a slice of server messages at a time (sync's firstSync).
func FirstSync(st *model.FolderState) bool {
	return st.UIDValidity == 0 && st.UIDNext == 0 && st.HighestModSeq == 0 && len(st.Pairs) == 0 &&
		len(st.Intents) == 0 && len(st.Downloads) == 0 && len(st.HeldBack) == 0
}
