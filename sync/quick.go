package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailsync/mailsync/internal/nameset"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// Quick passes (plan.Quick). After a sync left a folder in step, a run
// in which only the server changed it (another client flagged, added or
// expunged messages) plans the changed messages alone: one SELECT, the
// messages CHANGEDSINCE the stored HIGHESTMODSEQ, the UIDs and keys of
// the stored pairs (no pair decoded but those of changed and expunged
// messages), and one read of new/ and cur/ that makes Go values of the
// changed messages' files alone. What it proves first:
//
//   - the Maildir folder is as the last in-step run left it: new/ and
//     cur/ have the mtimes of the Skip record, before and after the
//     listing (no delivery, rename or removal since);
//   - it holds exactly one file per pair and no other: the set of the
//     keys of its files equals the set of the pairs' keys (so no
//     unpaired file can pair with a new server message by content, and
//     no pair's file is missing);
//   - the state holds no unfinished work, the UIDVALIDITY is the same,
//     the edit check is not due, and no flag or keyword stays on one
//     side (plan.Quick).
//
// Otherwise the pass is a whole one, having changed nothing.

// quickPass makes the run's first pass over the folder a quick one when
// it can. done is false when it cannot: nothing was changed, and a
// whole pass follows.
func (r *folderRun) quickPass(ctx context.Context) (again, done bool, err error) {
	if !r.c.Caps().CondStore || r.checkEdits {
		return false, false, nil
	}
	readAt := time.Now().UnixNano()
	pre := stampNanos(r.f.ChangeStamp())
	if !localUntouched(pre, r.recorded) {
		return false, false, nil
	}
	st, err := r.e.db.LoadHead(r.name)
	if err != nil {
		return false, false, err
	}
	status, err := r.c.Select(ctx, r.name, false)
	if err != nil {
		return false, false, fmt.Errorf("select: %w", err)
	}
	status.Unkept = r.c.Unkept()
	in := plan.QuickInput{CondStore: true, State: st, Status: status, FirstPass: true, LocalUntouched: true, EditCheck: r.checkEdits}
	if plan.Quick(in) != plan.QuickOK {
		return false, false, nil
	}
	changed, err := r.c.ListMessages(ctx, st.HighestModSeq)
	if err != nil {
		return false, false, fmt.Errorf("list messages on the server: %w", err)
	}
	var pairUIDs []model.UID
	var pairKeys nameset.Set
	if err := r.e.db.PairKeys(r.name, func(uid model.UID, key []byte) {
		pairUIDs = append(pairUIDs, uid)
		pairKeys.AddBytes(key)
	}); err != nil {
		return false, false, err
	}
	d, needUIDs, ok := plan.Changes(pairUIDs, changed, nil, false, status.Messages)
	if needUIDs {
		uids, err := r.c.UIDs(ctx)
		if err != nil {
			return false, false, fmt.Errorf("list messages on the server: %w", err)
		}
		d, _, ok = plan.Changes(pairUIDs, changed, uids, true, status.Messages)
	}
	if !ok {
		return false, false, nil
	}
	pairs, err := r.e.db.LoadPairs(r.name, d.Load)
	if err != nil {
		return false, false, err
	}
	if len(pairs) != len(d.Load) {
		return false, false, nil // changed since PairKeys: only this process writes it, but be sure
	}
	st.Pairs = pairs
	keys := make([]string, len(pairs))
	for i, p := range pairs {
		keys[i] = p.Key
	}
	entries, fileKeys, err := r.f.ListKeys(keys)
	if err != nil {
		return false, false, err
	}
	if fileKeys != pairKeys || stampNanos(r.f.ChangeStamp()) != pre {
		return false, false, nil
	}
	r.status, r.kwRule = status, r.c.KeywordRule()
	r.readAt, r.pre = readAt, pre
	again, err = r.planAndApply(ctx, st, d.Changed, entries, len(pairUIDs))
	if errors.Is(err, errNotQuick) {
		return false, false, nil
	}
	if err == nil {
		r.sum.QuickPasses++
	}
	return again, true, err
}

// oneSidedKeyword reports whether a Maildir message carries a keyword
// the server folder cannot store.
func oneSidedKeyword(local []model.LocalMsg, rule model.KeywordRule) bool {
	for _, l := range local {
		for _, k := range l.Keywords {
			if !rule.Keeps(k) {
				return true
			}
		}
	}
	return false
}
