package plan

import (
	"cmp"
	"slices"

	"github.com/mailsync/mailsync/model"
)

// Quick passes. When only the server changed since a sync left a folder
// in step, a pass needs only the messages that changed there: the pairs
// of the messages CHANGEDSINCE reports and of those expunged, and their
// Maildir files. A quick pass plans those alone (Input.TotalPairs says
// how many pairs the folder has, for the mass-deletion guard) instead of
// decoding every pair and listing every file in Go values: what is left
// out is, by the conditions below, as the last pass left it, and the
// planner decides about each message from that message alone. Before
// planning, the executor proves that the Maildir folder holds exactly
// one file for each pair and nothing else (the set of the keys of its
// files equals the set of the pairs' keys): then no unpaired file can
// pair by content with a new server message, and the planner sees every
// file the plan touches. Otherwise, and whenever a condition fails, the
// pass is a whole one.

// QuickInput is what Quick looks at, before the folder is listed.
type QuickInput struct {
	CondStore bool
	// State is the folder's stored state without its pairs
	// (statedb.LoadHead).
	State *model.FolderState
	// Status is the server's SELECT of the folder for this pass.
	Status model.FolderStatus
	// FirstPass: this is the run's first pass over the folder (a later
	// pass follows changes of its own or another client's).
	FirstPass bool
	// LocalUntouched: new/ and cur/ have the mtimes the Skip record of
	// the last in-step sync holds (nothing was delivered, renamed or
	// removed since it listed the folder).
	LocalUntouched bool
	// EditCheck: the paired files are to be stat'ed for edits in place
	// this run (editCheckDue, --full, watch mode).
	EditCheck bool
}

// QuickReason says why a pass is a whole one; QuickOK means it may be
// a quick one.
type QuickReason string

// The reasons of Quick.
const (
	QuickOK            QuickReason = ""
	QuickNoCondStore   QuickReason = "no CONDSTORE"
	QuickLaterPass     QuickReason = "not the first pass"
	QuickPending       QuickReason = "unfinished work in the state"
	QuickNoPosition    QuickReason = "no stored HIGHESTMODSEQ or a new UIDVALIDITY"
	QuickMaildir       QuickReason = "changed in the Maildir"
	QuickEditCheck     QuickReason = "edit check due"
	QuickUnkept        QuickReason = "flags or keywords the server or the Maildir cannot store"
	QuickNotProvenHere QuickReason = "the Maildir does not hold exactly the paired files"
)

// Quick decides whether a pass over a folder may be a quick one: on a
// CONDSTORE server, in the run's first pass, with no unfinished work in
// the state (intents, interrupted downloads, held-back deletions, flags
// or keywords said to stay on one side), the same UIDVALIDITY and a
// stored HIGHESTMODSEQ, a Maildir folder untouched since the last sync
// left it in step, and no edit check due.
func Quick(in QuickInput) QuickReason {
	st, s := in.State, in.Status
	switch {
	case !in.CondStore:
		return QuickNoCondStore
	case !in.FirstPass:
		return QuickLaterPass
	case len(st.Intents) > 0 || len(st.Downloads) > 0 || len(st.HeldBack) > 0:
		return QuickPending
	case st.Unkept != 0 || len(st.OneSided) > 0 || s.Unkept != 0:
		return QuickUnkept
	case st.UIDValidity == 0 || st.UIDValidity != s.UIDValidity || st.HighestModSeq == 0 || s.HighestModSeq == 0:
		return QuickNoPosition
	case !in.LocalUntouched:
		return QuickMaildir
	case in.EditCheck:
		return QuickEditCheck
	}
	return QuickOK
}

// ServerDelta is what changed on the server since the stored
// HIGHESTMODSEQ, as a quick pass plans it.
type ServerDelta struct {
	// Changed is the listing of the quick pass: the messages
	// CHANGEDSINCE reported and the server still has, sorted by UID,
	// one per UID (a later report wins): new messages and paired
	// messages whose flags changed.
	Changed []model.RemoteMsg
	// Expunged are the paired UIDs the server no longer has.
	Expunged []model.UID
	// Load are the UIDs whose pairs the pass reads: the paired ones of
	// Changed and Expunged, sorted.
	Load []model.UID
}

// Changes works out a quick pass's ServerDelta from the UIDs of the
// stored pairs (sorted), what CHANGEDSINCE reported, and messages, the
// count SELECT gave. uids is the server's whole list of UIDs (UID
// SEARCH) when haveUIDs is set; without it, when the counts prove that nothing was
// expunged (as UIDsFromCounts) it is not needed; otherwise needUIDs is
// true and the caller asks and calls again. ok is false when a UID is
// neither paired nor reported as changed (as Merge: the folder must be
// listed in full).
func Changes(pairUIDs []model.UID, changed []model.RemoteMsg, uids []model.UID, haveUIDs bool, messages uint32) (d ServerDelta, needUIDs, ok bool) {
	byUID := func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) }
	changed = slices.Clone(changed)
	slices.SortStableFunc(changed, byUID)
	// One per UID, the last report winning.
	out := changed[:0]
	for i, m := range changed {
		if i+1 < len(changed) && changed[i+1].UID == m.UID {
			continue
		}
		out = append(out, m)
	}
	changed = out
	paired := func(u model.UID) bool {
		_, found := slices.BinarySearch(pairUIDs, u)
		return found
	}
	if !haveUIDs {
		extra := 0
		for _, m := range changed {
			if !paired(m.UID) {
				extra++
			}
		}
		if uint64(len(pairUIDs))+uint64(extra) != uint64(messages) {
			return ServerDelta{}, true, false
		}
		d.Changed = changed
	} else {
		uids = slices.Clone(uids)
		slices.Sort(uids)
		uids = slices.Compact(uids)
		j := 0
		for _, u := range uids {
			for j < len(changed) && changed[j].UID < u {
				j++
			}
			if j < len(changed) && changed[j].UID == u {
				d.Changed = append(d.Changed, changed[j])
				continue
			}
			if !paired(u) {
				return ServerDelta{}, false, false
			}
		}
		for _, u := range pairUIDs {
			if _, found := slices.BinarySearch(uids, u); !found {
				d.Expunged = append(d.Expunged, u)
			}
		}
	}
	for _, m := range d.Changed {
		if paired(m.UID) {
			d.Load = append(d.Load, m.UID)
		}
	}
	d.Load = append(d.Load, d.Expunged...)
	slices.Sort(d.Load)
	return d, false, true
}
