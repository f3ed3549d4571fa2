package plan

import (
	"cmp"
	"slices"

	"github.com/mailsync/mailsync/model"
)

// UIDsFromCounts returns the server's whole list of UIDs for a
// ListChanged listing without asking the server (no UID SEARCH), when the
// counts prove that nothing was expunged: every message the server has
// is paired or was reported as changed since the stored HIGHESTMODSEQ
// (a message added since has a higher MODSEQ), so when messages, the
// count SELECT gave, equals the pairs plus the changed messages that are
// not paired, every paired message is still there and the list is the
// pairs' UIDs and those. ok is false when the counts disagree (something
// was expunged: the server must be asked) or the state holds unfinished
// downloads or uploads, whose messages may be unpaired with an older
// MODSEQ. changed need not be sorted.
func UIDsFromCounts(st *model.FolderState, changed []model.RemoteMsg, messages uint32) (uids []model.UID, ok bool) {
	if len(st.Downloads) > 0 || len(st.Intents) > 0 {
		return nil, false
	}
	paired := func(u model.UID) bool {
		_, found := slices.BinarySearchFunc(st.Pairs, u, func(p model.Pair, u model.UID) int { return cmp.Compare(p.UID, u) })
		return found
	}
	if !slices.IsSortedFunc(st.Pairs, func(a, b model.Pair) int { return cmp.Compare(a.UID, b.UID) }) {
		return nil, false
	}
	var extra []model.UID
	for _, m := range changed {
		if !paired(m.UID) {
			extra = append(extra, m.UID)
		}
	}
	slices.Sort(extra)
	extra = slices.Compact(extra)
	if uint64(len(st.Pairs))+uint64(len(extra)) != uint64(messages) {
		return nil, false
	}
	uids = make([]model.UID, 0, int(messages))
	for _, p := range st.Pairs {
		uids = append(uids, p.UID)
	}
	uids = append(uids, extra...)
	slices.Sort(uids)
	return uids, true
}
