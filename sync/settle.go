package sync

import (
	"context"
	"fmt"

	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// settleQuick learns, without a second pass, that the server folder
// holds exactly what the last pass left (plan.Settled): it selects the
// folder again, lists what changed since the pass's SELECT
// (CHANGEDSINCE) and reads the pairs of those messages alone. When it
// is settled the new status is the pass's (recorded with the Skip
// record) and it reports true; otherwise the caller makes a whole
// settling pass.
func (r *folderRun) settleQuick(ctx context.Context) (bool, error) {
	before := r.status
	if !r.c.Caps().CondStore || before.HighestModSeq == 0 || r.in == nil || r.blockedSaid {
		// (With deletions held back the pass did not apply everything:
		// its UIDNEXT and HIGHESTMODSEQ are not recorded, as the whole
		// pass would not record them either.)
		return false, nil
	}
	after, err := r.c.Select(ctx, r.name, false)
	if err != nil {
		return false, fmt.Errorf("select: %w", err)
	}
	after.Unkept = r.c.Unkept()
	changed, err := r.c.ListMessages(ctx, before.HighestModSeq)
	if err != nil {
		return false, fmt.Errorf("list messages on the server: %w", err)
	}
	uids := make([]model.UID, len(changed))
	for i, m := range changed {
		uids[i] = m.UID
	}
	pairs, err := r.e.db.LoadPairs(r.name, uids)
	if err != nil {
		return false, err
	}
	in := plan.SettleInput{Before: before, After: after, Uploaded: r.passUploaded, Expunged: r.passExpunged,
		Changed: changed, Pairs: pairs, Unkept: r.in.Unkept, Keywords: r.in.Keywords, LocalFull: r.in.LocalFull}
	if !plan.Settled(in) || after.Unkept != before.Unkept {
		return false, nil
	}
	r.status = after
	r.passServerChanged = false
	r.meta = plan.RecordMeta(true, r.in.State, after)
	return true, nil
}
