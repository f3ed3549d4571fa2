package plan

import (
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
	known := make(map[model.UID]model.RemoteMsg, len(st.Pairs))
	for _, p := range st.Pairs {
		known[p.UID] = model.RemoteMsg{UID: p.UID, Flags: p.Flags, Keywords: p.Keywords}
	}
	for _, m := range changed {
		known[m.UID] = m
	}
	out = make([]model.RemoteMsg, 0, len(uids))
	seen := make(map[model.UID]bool, len(uids))
	for _, uid := range uids {
		m, found := known[uid]
		if !found {
			return nil, false
		}
		if !seen[uid] {
			seen[uid] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
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
