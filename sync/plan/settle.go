package plan

import "github.com/mailsync/mailsync/model"

// SettleInput is what Settled looks at: a pass that changed the server
// (STOREs, APPENDs, EXPUNGEs) moved its UIDNEXT and HIGHESTMODSEQ on, and
// the next run could skip the folder only if the state recorded where
// they ended. Rather than a whole second pass (the state decoded, both
// sides listed, a plan made again), the engine selects the folder again,
// asks for what changed since the pass's SELECT, and reads the pairs of
// those messages alone.
type SettleInput struct {
	// Before is the pass's SELECT; After the SELECT made since.
	Before, After model.FolderStatus
	// Uploaded are the UIDs of the pass's uploads; Expunged how many
	// messages the pass expunged.
	Uploaded []model.UID
	Expunged int
	// Changed are the server's messages changed since Before's
	// HIGHESTMODSEQ (CHANGEDSINCE: the pass's own STOREs and APPENDs, and
	// anything another client did), Pairs the stored pairs of their UIDs
	// after the pass.
	Changed []model.RemoteMsg
	Pairs   []model.Pair
	// Unkept, Keywords and LocalFull are the pass's Input's.
	Unkept    model.Flags
	Keywords  model.KeywordRule
	LocalFull model.Keywords
}

// Settled reports whether the server folder holds exactly what the pass
// left, so that After can be recorded as the folder's UIDNEXT and
// HIGHESTMODSEQ: the same UIDVALIDITY; UIDNEXT moved only past the
// pass's uploads and MESSAGES by its uploads and expunges (another
// client's APPEND or EXPUNGE shows in one or the other); and every
// message changed since Before is paired and as its pair says (flags and
// keywords as the merge would leave them, the Maildir side taken to be
// the pair's: the engine checks that separately). When it is false the
// engine makes a whole second pass, which sees what changed.
func Settled(in SettleInput) bool {
	b, a := in.Before, in.After
	if a.UIDValidity != b.UIDValidity || a.HighestModSeq == 0 || b.HighestModSeq == 0 || a.UIDNext == 0 {
		return false
	}
	next := b.UIDNext
	for _, u := range in.Uploaded {
		if u < b.UIDNext {
			return false // not a new message: something is off
		}
		next = max(next, u+1)
	}
	if a.UIDNext != next || int64(a.Messages) != int64(b.Messages)+int64(len(in.Uploaded))-int64(in.Expunged) {
		return false
	}
	pairs := make(map[model.UID]model.Pair, len(in.Pairs))
	for _, pr := range in.Pairs {
		pairs[pr.UID] = pr
	}
	p := &Plan{Unkept: in.Unkept, Keywords: in.Keywords, LocalFull: in.LocalFull}
	for _, r := range in.Changed {
		pr, ok := pairs[r.UID]
		if !ok {
			return false
		}
		p.flagSync(pr.UID, pr.Key, pr.Flags, r.Flags, pr.Flags, pr.Keywords, r.Keywords, pr.Keywords)
		if len(p.Flags) > 0 {
			return false
		}
	}
	return true
}
