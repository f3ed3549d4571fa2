package plan

import (
	"cmp"
	"slices"

	"github.com/mailsync/mailsync/model"
)

// Quick passes. After a sync left a folder in step, a pass needs only
// the messages that changed since on either side: on the server, those
// CHANGEDSINCE reports and those expunged; in the Maildir, the files
// whose name, inode or (when the pass stats them) size and mtime are no
// longer what their pairs remember (LocalUnchanged), the files of no
// pair, and the pairs whose file is gone. A quick pass plans those alone
// (Input.TotalPairs says how many pairs the folder has, for the
// mass-deletion guard) instead of decoding every pair and listing every
// file in Go values: every message left out is, by the conditions
// below, as the last pass left it on both sides, a whole pass would plan
// nothing for it, and the planner decides about each message from that
// message alone, but for pairing by content, which looks only at
// unpaired messages of both sides (all of them in the quick pass too).
// Whenever a condition fails, the pass is a whole one.

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
}

// QuickReason says why a pass is a whole one; QuickOK means it may be
// a quick one.
type QuickReason string

// The reasons of Quick.
const (
	QuickOK          QuickReason = ""
	QuickNoCondStore QuickReason = "no CONDSTORE"
	QuickLaterPass   QuickReason = "not the first pass"
	QuickPending     QuickReason = "unfinished work in the state"
	QuickNoPosition  QuickReason = "no stored HIGHESTMODSEQ or a new UIDVALIDITY"
	QuickUnkept      QuickReason = "flags or keywords the server or the Maildir cannot store"
)

// Quick decides whether a pass over a folder may be a quick one: on a
// CONDSTORE server, in the run's first pass, with no unfinished work in
// the state (intents, interrupted downloads, held-back deletions, flags
// or keywords said to stay on one side), the same UIDVALIDITY and a
// stored HIGHESTMODSEQ.
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
	}
	return QuickOK
}

// LocalUnchanged reports whether the Maildir file l of pair p is as the
// last sync left it, so that a pass in which the server did not change
// the message plans nothing for it: the flags and keywords of its name
// are the pair's, it was not replaced by a rename over its name (its
// inode number, where both are known, is the pair's), and, in a pass
// that stats the paired files (stat: the Maildir folder changed since
// the last run, or the edit check is due), it was stat'ed and has the
// size and mtime the pair remembers (and an inode number, if the file
// has one). These are the files NeedEditCheck would not read, Edits
// would not record again and no flag sync would touch. (Two pairs of
// one key are a whole pass's work: Edits keeps the newer.)
func LocalUnchanged(p model.Pair, l model.LocalMsg, stat bool) bool {
	if l.Flags != p.Flags || !l.Keywords.Equal(p.Keywords) {
		return false
	}
	if l.Ino != 0 && p.Ino != 0 && l.Ino != p.Ino {
		return false
	}
	if stat && (l.ModTime == 0 || p.Size == 0 || l.Size != p.Size || l.ModTime != p.ModTime || p.Ino == 0 && l.Ino != 0) {
		return false // (a pair recorded before inodes were gets its inode: Edits)
	}
	return true
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
	changed = lastPerUID(changed)
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

// KnownFiles says whether a quick pass may find the files of the
// messages it plans by their names (maildir FindFile), reading neither
// new/ nor cur/: the folder's Skip record is Exact (one file per pair,
// nothing else), the directories still have its mtimes (pre, read
// before anything else), and no edit check is due (which stats every
// paired file).
func KnownFiles(rec SkipRecord, pre [2]int64, checkEdits bool) bool {
	return rec.Exact && !checkEdits && pre[0] != 0 && pre[1] != 0 && pre == [2]int64{rec.NewMtime, rec.CurMtime}
}

// KeepsExact says whether applying p to a folder that holds exactly one
// file per pair keeps it so: p only downloads (a file and its pair),
// renames files for flags, and removes files with their pairs (messages
// gone from the server). Pairing by content, uploads, expunges, replaced
// or orphaned files, dropped intents or downloads, held-back deletions
// and a reset all say no.
func KeepsExact(p *Plan) bool {
	return !p.ResetPairs && len(p.Pair) == 0 && len(p.ExpungeRemote) == 0 && len(p.Replace) == 0 &&
		len(p.RemoveOrphans) == 0 && len(p.Upload) == 0 && len(p.Blocked) == 0 && len(p.HeldBack) == 0 &&
		!p.SetHeldBack && len(p.DropIntents) == 0 && len(p.DropDownloads) == 0 && len(p.DropPairs) == 0
}

// lastPerUID sorts a copy of what CHANGEDSINCE reported by UID, one per
// UID, the last report winning.
func lastPerUID(changed []model.RemoteMsg) []model.RemoteMsg {
	changed = slices.Clone(changed)
	slices.SortStableFunc(changed, func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) })
	out := changed[:0]
	for i, m := range changed {
		if i+1 < len(changed) && changed[i+1].UID == m.UID {
			continue
		}
		out = append(out, m)
	}
	return out
}

// ChangesCounted is Changes without the UIDs of the stored pairs: from
// their number (count) and which of the messages CHANGEDSINCE reported
// have one (paired). It is the same delta when the counts prove that
// nothing was expunged: every pair but those of changed messages is of
// an unchanged message the server still has, and each changed message
// without a pair is new. Otherwise ok is false: Changes, with the pairs'
// UIDs, works it out.
func ChangesCounted(count int, paired []model.UID, changed []model.RemoteMsg, messages uint32) (d ServerDelta, ok bool) {
	changed = lastPerUID(changed)
	paired = slices.Clone(paired)
	slices.Sort(paired)
	paired = slices.Compact(paired)
	extra := 0
	for _, m := range changed {
		if _, found := slices.BinarySearch(paired, m.UID); found {
			d.Load = append(d.Load, m.UID)
		} else {
			extra++
		}
	}
	if len(d.Load) != len(paired) || uint64(count)+uint64(extra) != uint64(messages) {
		return ServerDelta{}, false // a pair of no changed message: not the caller's listing
	}
	d.Changed = changed
	return d, true
}
