package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/crashpoint"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// Batch sizes: one state commit per batch of transfers.
const (
	downloadBatchMsgs  = 200
	downloadBatchBytes = 32 << 20
	uploadBatchMsgs    = 50
	uploadBatchBytes   = 16 << 20
	maxPasses          = 3
)

// staleTmpAge is how old a file in a folder's tmp/ must be for the sync
// to remove it (the Maildir convention: 36 hours). A variable for tests.
var staleTmpAge = 36 * time.Hour

// folderRun is the sync of one folder on one connection.
type folderRun struct {
	e      *engine
	c      conn
	name   string
	f      LocalFolder
	status model.FolderStatus
	sum    *Summary
	// unconfirmed holds the keys uploaded in this run whose UIDs the
	// server did not tell: a later pass pairs them by content and never
	// uploads them again. The value says whether the user was warned.
	unconfirmed map[string]bool
	// serverChanged: a pass of this run changed the server.
	serverChanged bool
	// refused holds the keys the server refused in this run (over every
	// attempt of the folder), with the error reported for each: they are
	// not sent again until the next run.
	refused map[string]string
	// blockedSaid: a pass of this run reported held-back deletions.
	blockedSaid bool
	// For the Skip record (skip.go): whether the last pass changed the
	// server, and the mtimes of new/ and cur/ it read at readAt
	// (nanoseconds) before listing the Maildir folder.
	passServerChanged bool
	pre               [2]int64
	readAt            int64
	// meta is what the last pass found to record (plan.RecordMeta), not
	// yet committed.
	meta *model.Meta
	// Set by each pass: the server folder's keyword rule, the Maildir
	// folder's keyword map, and what the planner was given (the listings
	// of both sides, found by key and UID).
	kwRule model.KeywordRule
	kw     *maildir.Keywords
	in     *plan.Input
	// checkEdits: the passes stat the paired files to find those edited
	// (statPaired), which a run does when the last check is older than
	// FullListingAge (or with --full), and whenever the Maildir folder
	// changed since the last run left it in step (localUntouched).
	// checked is when the last check was made (for the Skip record's
	// Listed).
	checkEdits bool
	checked    int64
	recorded   [2]int64 // the Skip record's mtimes of new/ and cur/ at the start
	// recordExact: the Skip record at the start is Exact; exact: the
	// passes so far leave the folder with one file per pair and nothing
	// else (a quick pass proved it at its start and made only changes
	// that keep it: plan.KeepsExact), for the next record.
	recordExact, exact bool
	// passed: the run made a pass over the folder (the first may be a
	// quick one).
	passed bool
	// What the last pass did to the server, for settleQuick: the UIDs
	// of its uploads and how many messages it expunged.
	passUploaded []model.UID
	passExpunged int
	// settling: settleLocal runs (or will) beside the next folder; it
	// ends the folder's watch.
	settling bool
}

// syncFolder syncs one folder. It may run up to maxPasses times over:
// a pass that uploaded messages without learning their UIDs (no
// UIDPLUS) is followed by one that pairs them by content.
func (e *engine) syncFolder(ctx context.Context, c conn, name string, sum *Summary, refused map[string]string) error {
	f, err := e.md.Folder(name)
	if err != nil {
		return err
	}
	if e.opts.DryRun {
		return e.dryRunFolder(ctx, c, name, f, sum)
	}
	if !f.Exists() {
		return fmt.Errorf("Maildir folder %s is missing", f.Path())
	}
	// Files in tmp/ are deliveries a crash interrupted (ours or another
	// program's); after 36 hours nobody is still writing them.
	if err := f.CleanTmp(staleTmpAge); err != nil {
		e.warn("folder %q: %v", name, err)
	}
	// A message staged by a run killed before it delivered it is ours,
	// and garbage at once (a download is always staged again).
	if err := f.CleanStaged(e.started); err != nil {
		e.warn("folder %q: %v", name, err)
	}
	// Flag renames and removals are made durable once per batch, before
	// the commit that records them (SyncDirs), not one fsync each.
	f.DeferDirSync()
	r := &folderRun{e: e, c: c, name: name, f: f, sum: sum, unconfirmed: map[string]bool{}, refused: refused}
	// Watched from before the first listing, so that settleLocal can
	// learn that nobody else changed the folder without reading it again.
	f.Watch()
	defer func() {
		if !r.settling {
			f.Unwatch()
		}
	}()
	var rec plan.SkipRecord
	r.checkEdits, r.checked, rec = e.editCheckDue(name)
	r.recorded, r.recordExact = [2]int64{rec.NewMtime, rec.CurMtime}, rec.Exact
	settled := false
	for pass := 0; pass < maxPasses; pass++ {
		again, err := r.pass(ctx)
		if err != nil {
			return err
		}
		if !again && r.serverChanged && r.c.Caps().CondStore && !settled {
			// Our own changes moved the server's HIGHESTMODSEQ and
			// UIDNEXT on. Learning where they ended lets the next run
			// skip the folder: settleQuick checks that the server holds
			// just what the pass left, and otherwise one more (CHANGEDSINCE)
			// pass records it and catches what other clients did
			// meanwhile.
			ok, err := r.settleQuick(ctx)
			if err != nil {
				return err
			}
			if ok {
				return r.recordSkip(ctx)
			}
			settled, again = true, true
			r.serverChanged = false
			if err := r.commitMeta(); err != nil {
				return err
			}
		}
		if !again {
			return r.recordSkip(ctx)
		}
	}
	return nil
}

// pass lists both sides, plans and applies the plan. It reports whether
// another pass is needed. The run's first pass over a folder in which
// only the server changed is a quick one (quick.go) when it can be.
func (r *folderRun) pass(ctx context.Context) (bool, error) {
	first := !r.passed
	r.passed = true
	if first {
		again, done, err := r.quickPass(ctx)
		if err != nil || done {
			return again, err
		}
	}
	return r.wholePass(ctx)
}

// wholePass is a pass that reads every pair and lists every message of
// both sides (the server's through CHANGEDSINCE where it can).
func (r *folderRun) wholePass(ctx context.Context) (bool, error) {
	r.exact = false
	st, err := r.e.db.Load(r.name)
	if err != nil {
		return false, err
	}
	r.status, err = r.c.Select(ctx, r.name, false)
	if err != nil {
		return false, fmt.Errorf("select: %w", err)
	}
	r.status.Unkept = r.c.Unkept()
	r.kwRule = r.c.KeywordRule()
	if plan.FirstSync(st) && r.status.Messages > firstSyncSlice {
		entries, err := r.listLocal()
		if err != nil {
			return false, err
		}
		if len(entries) == 0 {
			return r.firstSync(ctx, st)
		}
	}
	remote, err := r.listRemote(ctx, st)
	if err != nil {
		return false, fmt.Errorf("list messages on the server: %w", err)
	}
	entries, err := r.listLocal()
	if err != nil {
		return false, err
	}
	return r.planAndApply(ctx, st, remote, entries, 0)
}

// listLocal lists the Maildir folder for a whole pass, having read the
// mtimes of new/ and cur/ first (for the Skip record).
func (r *folderRun) listLocal() ([]maildir.Entry, error) {
	r.readAt = time.Now().UnixNano()
	r.pre = stampNanos(r.f.ChangeStamp())
	r.sum.Listings++
	return r.f.List()
}

// firstSyncSlice is how many server messages a first sync of a folder
// lists and plans at a time (firstSync). A variable for tests.
var firstSyncSlice uint32 = 2000

// firstSync is the whole pass of a folder synced for the first time
// into an empty Maildir folder (no state at all, no file: plan.FirstSync):
// nothing on either side can pair with or depend on another message, so
// the server's messages are listed, planned and applied a slice of
// firstSyncSlice UIDs at a time (UID SEARCH, then UID FETCH of each
// slice's range), each slice as the whole pass would plan it alone. A
// run holds one slice's listing and plan, not the folder's: 60,000
// messages listed at once held 25 MB. Another client's new messages
// (UIDs past the search) are the next run's; the UIDNEXT and
// HIGHESTMODSEQ recorded are the SELECT's, as for a whole pass.
func (r *folderRun) firstSync(ctx context.Context, st *model.FolderState) (bool, error) {
	uids, err := r.c.UIDs(ctx)
	if err != nil {
		return false, fmt.Errorf("list messages on the server: %w", err)
	}
	for lo := 0; lo < len(uids); lo += int(firstSyncSlice) {
		part := uids[lo:min(lo+int(firstSyncSlice), len(uids))]
		remote, err := r.c.ListUIDRange(ctx, part[0], part[len(part)-1])
		if err != nil {
			return false, fmt.Errorf("list messages on the server: %w", err)
		}
		// Every slice is planned from the state as it was: the pairs
		// of the slices before are other messages.
		slice := *st
		again, err := r.planAndApply(ctx, &slice, remote, nil, 0)
		if err != nil || again {
			return again, err
		}
		// The slice's files are not looked up again: the Folder need
		// not hold a name per message (settling asks the watch).
		r.f.ForgetLocations()
	}
	return false, nil
}

// errNotQuick ends a quick pass that finds it cannot be one before it
// changed anything: a whole pass follows.
var errNotQuick = errors.New("not a quick pass")

// planAndApply plans a pass from the state and the listings of both
// sides and applies the plan. total is 0 in a whole pass; in a quick one
// st, remote and entries hold only the messages the pass plans, and
// total is the folder's number of pairs (plan.Input.TotalPairs); it
// returns errNotQuick, having changed nothing, when it finds keywords
// that stay on one side.
func (r *folderRun) planAndApply(ctx context.Context, st *model.FolderState, remote []model.RemoteMsg, entries []maildir.Entry, total int) (bool, error) {
	r.meta = nil
	r.in = nil
	r.passUploaded, r.passExpunged = nil, 0
	expungedBefore := r.sum.ExpungedRemote
	defer func() { r.passExpunged = r.sum.ExpungedRemote - expungedBefore }()
	kw, localFull, err := r.prepareKeywords(st, remote)
	if err != nil {
		return false, err
	}
	r.kw = kw
	// (After a UIDVALIDITY change the files' sizes and mtimes tell which
	// are unchanged since they were paired: plan.PairByContent.)
	if r.checkEdits || !localUntouched(r.pre, r.recorded) || plan.ValidityChanged(st, r.status.UIDValidity) {
		if err := r.statPaired(st, entries); err != nil {
			return false, err
		}
		r.checked = r.readAt
	}
	local := localMsgs(entries, kw)
	if total > 0 && (len(localFull) > 0 || oneSidedKeyword(local, r.kwRule)) {
		return false, errNotQuick
	}
	in := &plan.Input{Folder: r.name, State: st, UIDValidity: r.status.UIDValidity, Remote: remote, Local: local,
		AllowMassDelete: r.e.opts.AllowMassDelete, Unkept: r.status.Unkept, Keywords: r.kwRule, LocalFull: localFull, Policy: r.e.opts.Policy,
		TotalPairs: total}
	if err := r.sayUnkept(st, local); err != nil {
		return false, err
	}
	if err := r.sayOneSided(st, local, localFull); err != nil {
		return false, err
	}
	if err := r.editCheck(in); err != nil {
		return false, err
	}
	if err := r.fingerprint(ctx, in); err != nil {
		return false, err
	}
	if err := r.hash(ctx, in); err != nil {
		return false, err
	}
	pl, err := plan.Build(in)
	if err != nil {
		return false, err
	}
	r.in = in
	for _, b := range pl.Blocked {
		// A later pass finds the same held-back deletions again (with
		// another total when it uploaded or downloaded): say it once.
		if !r.blockedSaid && !slices.Contains(r.sum.Errors, b) {
			r.sum.Errors = append(r.sum.Errors, b)
			r.e.note("error: %s", b)
		}
	}
	if len(pl.Blocked) > 0 {
		r.blockedSaid = true
	}
	r.passServerChanged = len(pl.Upload) > 0 || len(pl.ExpungeRemote) > 0 || len(pl.Replace) > 0
	for _, fs := range pl.Flags {
		if fs.Remote != fs.Target || !fs.KwServer.Equal(fs.KwRemote) {
			r.passServerChanged = true
		}
	}
	r.serverChanged = r.serverChanged || r.passServerChanged
	r.exact = r.exact && total > 0 && !r.passServerChanged && plan.KeepsExact(pl)
	again, err := r.apply(ctx, st, pl)
	if err != nil {
		return false, err
	}
	r.exact = r.exact && !again
	if !again && len(pl.Blocked) == 0 {
		// Everything up to the HIGHESTMODSEQ and UIDNEXT seen at SELECT
		// is applied: remember them for the next run's shortcut (with
		// the Skip record, in one transaction, or before a settling
		// pass).
		r.meta = plan.RecordMeta(r.c.Caps().CondStore, st, r.status)
	}
	return again, nil
}

// sayUnkept warns that Maildir messages carry a flag the server cannot
// store (it stays in the Maildir only), once: the flags said are recorded
// in the state, and said again only after the server kept them meanwhile.
func (r *folderRun) sayUnkept(st *model.FolderState, local []model.LocalMsg) error {
	u := r.status.Unkept
	n := map[model.Flags]int{}
	for _, l := range local {
		for f := model.Flags(1); f <= model.FlagTrashed; f <<= 1 {
			if l.Flags&u&f != 0 {
				n[f]++
			}
		}
	}
	said := st.Unkept & u
	for f := model.Flags(1); f <= model.FlagTrashed; f <<= 1 {
		if n[f] == 0 || said&f != 0 {
			continue
		}
		said |= f
		r.e.warn("folder %q: the server cannot store the flag %s (it is not in the folder's PERMANENTFLAGS); %d messages keep it in the Maildir only (letter %s in the file name), and later ones will too",
			r.name, f.IMAP()[0], n[f], f.Letters())
	}
	if said == st.Unkept {
		return nil
	}
	st.Unkept = said
	return r.e.db.Commit(r.name, model.StateChange{SetUnkept: true, Unkept: said})
}

// listRemote lists the server's messages with their flags, the way
// plan.Listing decides: in full, from the state (nothing sent), or only
// what changed since the last run (CONDSTORE).
func (r *folderRun) listRemote(ctx context.Context, st *model.FolderState) ([]model.RemoteMsg, error) {
	switch plan.Listing(r.c.Caps().CondStore, st, r.status) {
	case plan.ListFromState:
		return plan.FromState(st), nil
	case plan.ListChanged:
		changed, err := r.c.ListMessages(ctx, st.HighestModSeq)
		if err != nil {
			return nil, err
		}
		// UID SEARCH only when the counts say something was expunged.
		uids, ok := plan.UIDsFromCounts(st, changed, r.status.Messages)
		if !ok {
			if uids, err = r.c.UIDs(ctx); err != nil {
				return nil, err
			}
		}
		if out, ok := plan.Merge(st, changed, uids); ok {
			return out, nil
		}
	}
	return r.c.ListMessages(ctx, 0)
}

// fingerprint fills in the fingerprints the planner needs.
func (r *folderRun) fingerprint(ctx context.Context, in *plan.Input) error {
	ruids, lkeys := plan.NeedFingerprints(in)
	if len(ruids) > 0 {
		fps, err := r.c.Fingerprints(ctx, ruids)
		if err != nil {
			return fmt.Errorf("fetch headers: %w", err)
		}
		for i := range in.Remote {
			if fp, ok := fps[in.Remote[i].UID]; ok {
				in.Remote[i].Fingerprint = fp
			}
		}
	}
	return r.readLocal(in, lkeys, func(m *model.LocalMsg, _ maildir.Entry, data []byte) { m.Fingerprint = model.LocalFingerprint(data) })
}

// readLocal reads the Maildir files of the given keys and hands each to
// set with its entry in in.Local; a file gone since the scan is left out
// (it will not be paired).
func (r *folderRun) readLocal(in *plan.Input, keys []string, set func(m *model.LocalMsg, en maildir.Entry, data []byte)) error {
	if len(keys) == 0 {
		return nil
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	for i := range in.Local {
		if !want[in.Local[i].Key] {
			continue
		}
		data, en, err := r.f.ReadFile(in.Local[i].Key)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		set(&in.Local[i], en, data)
	}
	return nil
}

// hash fills in the whole-message hashes of the candidates for pairing
// by content (plan.NeedHashes): the server's bodies are fetched for them
// only.
func (r *folderRun) hash(ctx context.Context, in *plan.Input) error {
	ruids, lkeys := plan.NeedHashes(in)
	if len(ruids) > 0 {
		hashes := make(map[model.UID]string, len(ruids))
		err := r.c.FetchBodies(ctx, ruids, func(m model.Message) error {
			h, err := model.HashReader(m.Body)
			hashes[m.UID] = h
			return err
		})
		if err != nil {
			return fmt.Errorf("fetch messages to compare: %w", err)
		}
		for i := range in.Remote {
			if h, ok := hashes[in.Remote[i].UID]; ok {
				in.Remote[i].Hash = h
			}
		}
	}
	return r.readLocal(in, lkeys, func(m *model.LocalMsg, _ maildir.Entry, data []byte) { m.Hash = model.ContentHash(data) })
}

// apply carries out a plan in crash-safe order. It reports whether an
// upload's UID is unknown, so that another pass must pair it.
func (r *folderRun) apply(ctx context.Context, st *model.FolderState, p *plan.Plan) (bool, error) {
	db := r.e.db
	// 1. Pairs found by content, pairs gone on both sides, old intents.
	expunging := map[string]bool{}
	for _, x := range p.ExpungeRemote {
		expunging[x.Key] = true
	}
	var dropIntents []string
	paired := map[string]bool{}
	for _, np := range p.Pair {
		paired[np.Key] = true
	}
	for _, k := range p.DropIntents {
		// An upload of this run whose UID is still unknown keeps its
		// intent until it is paired.
		if _, unconfirmed := r.unconfirmed[k]; !expunging[k] && (!unconfirmed || paired[k]) {
			dropIntents = append(dropIntents, k)
		}
	}
	// What each pair records: its content fields as stored or updated,
	// or those of the file a new pair names.
	changed := make(map[model.UID]model.Pair, len(p.UpdatePairs)+len(p.Pair))
	for _, pr := range p.UpdatePairs {
		changed[pr.UID] = pr
	}
	for _, np := range p.Pair {
		l, _ := r.in.LocalMsg(np.Key)
		changed[np.UID] = model.Pair{UID: np.UID, Key: np.Key, Flags: np.Base, Keywords: np.BaseKw}.WithContent(l)
	}
	records := func(uid model.UID) model.Pair {
		if pr, ok := changed[uid]; ok {
			return pr
		}
		pr, _ := r.in.StoredPair(uid)
		return pr
	}
	if p.ResetPairs || len(p.Pair) > 0 || len(p.DropPairs) > 0 || len(dropIntents) > 0 || p.SetHeldBack || len(p.UpdatePairs) > 0 {
		ch := model.StateChange{ResetPairs: p.ResetPairs, DeletePairs: p.DropPairs, DeleteIntents: dropIntents,
			SetHeldBack: p.SetHeldBack, HeldBack: p.HeldBack, PutPairs: p.UpdatePairs}
		if p.ResetPairs {
			// The new UIDVALIDITY goes with the new pairs; UIDNEXT and
			// HIGHESTMODSEQ are recorded when the pass completes.
			ch.Meta = &model.Meta{UIDValidity: r.status.UIDValidity}
		}
		for _, np := range p.Pair {
			ch.PutPairs = append(ch.PutPairs, records(np.UID))
		}
		if err := db.Commit(r.name, ch); err != nil {
			return false, err
		}
		r.sum.Paired += len(p.Pair)
	}
	if err := r.removeStaged(st.Downloads, p.DropDownloads); err != nil {
		return false, err
	}
	if err := r.removeOrphans(p.RemoveOrphans, p.DropDownloads); err != nil {
		return false, err
	}
	if err := r.applyFlags(ctx, p.Flags, p.Unkept, records); err != nil {
		return false, err
	}
	if err := r.deleteLocal(p.DeleteLocal); err != nil {
		return false, err
	}
	if err := r.expungeRemote(ctx, p.ExpungeRemote); err != nil {
		return false, err
	}
	if err := r.download(ctx, p.Download); err != nil {
		return false, err
	}
	again, err := r.upload(ctx, p.Upload, p.Unkept)
	if err != nil {
		return false, err
	}
	if err := r.replace(ctx, p.Replace); err != nil {
		return false, err
	}
	return again, nil
}

// applyFlags sets the target flags on the server (grouped into as few
// UID STOREs as there are distinct changes), then in the Maildir, then
// records them as agreed.
func (r *folderRun) applyFlags(ctx context.Context, syncs []plan.FlagSync, unkept model.Flags, records func(model.UID) model.Pair) error {
	if len(syncs) == 0 {
		return nil
	}
	type change struct {
		add   bool
		flags model.Flags
	}
	groups := map[change][]model.UID{}
	for _, s := range syncs {
		target := s.ServerTarget(unkept)
		if add := target &^ s.Remote; add != 0 {
			groups[change{true, add}] = append(groups[change{true, add}], s.UID)
		}
		if rem := s.Remote &^ target; rem != 0 {
			groups[change{false, rem}] = append(groups[change{false, rem}], s.UID)
		}
		if s.Remote != target || !s.KwServer.Equal(s.KwRemote) {
			r.sum.FlagsToServer++
		}
	}
	changes := make([]change, 0, len(groups))
	for ch := range groups {
		changes = append(changes, ch)
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].add != changes[j].add {
			return changes[i].add
		}
		return changes[i].flags < changes[j].flags
	})
	for _, ch := range changes {
		if err := r.c.StoreFlags(ctx, groups[ch], ch.add, ch.flags); err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
		crashpoint.Step("imap-store")
	}
	if err := r.storeKeywords(ctx, syncs); err != nil {
		return fmt.Errorf("store keywords: %w", err)
	}
	agreed := make([]plan.FlagSync, 0, len(syncs))
	renamedBefore := r.sum.FlagsToLocal
	for _, s := range syncs {
		if !s.KwMaildir.Equal(s.KwLocal) {
			letters, _ := r.kw.LettersOf(s.KwMaildir)
			_, err := r.f.SetInfo(s.Key, s.Target, letters, r.kw.Letters())
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted meanwhile: the next run sees it
			}
			if err != nil {
				return err
			}
			crashpoint.Step("maildir-rename")
			r.sum.FlagsToLocal++
		} else if s.Local != s.Target {
			_, err := r.f.SetFlags(s.Key, s.Target)
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted meanwhile: the next run sees it
			}
			if err != nil {
				return err
			}
			crashpoint.Step("maildir-rename")
			r.sum.FlagsToLocal++
		}
		agreed = append(agreed, s)
	}
	if r.sum.FlagsToLocal > renamedBefore {
		// The renames are durable before the pairs record them.
		if err := r.f.SyncDirs(); err != nil {
			return err
		}
	}
	pairs := make([]model.Pair, len(agreed))
	for i, s := range agreed {
		pr := records(s.UID)
		pr.UID, pr.Key, pr.Flags, pr.Keywords = s.UID, s.Key, s.Target, s.KwTarget
		pairs[i] = pr
	}
	return r.commitPairs(pairs, false)
}

// commitPairs records pairs, in transactions of a few thousand; with
// dropIntents, the intents of their keys are forgotten in the same
// transactions.
func (r *folderRun) commitPairs(pairs []model.Pair, dropIntents bool) error {
	const chunk = 5000
	for lo := 0; lo < len(pairs); lo += chunk {
		ch := model.StateChange{PutPairs: pairs[lo:min(lo+chunk, len(pairs))]}
		if dropIntents {
			for _, p := range ch.PutPairs {
				ch.DeleteIntents = append(ch.DeleteIntents, p.Key)
			}
		}
		if err := r.e.db.Commit(r.name, ch); err != nil {
			return err
		}
	}
	return nil
}

// removeOrphans removes the files interrupted downloads left whose
// server messages are gone, makes that durable, and then forgets the
// download intents (an intent forgotten first would leave the file to be
// uploaded as new after a crash).
func (r *folderRun) removeOrphans(keys []string, drop []model.UID) error {
	for _, k := range keys {
		err := r.f.Remove(k)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		crashpoint.Step("maildir-unlink")
		r.sum.DeletedLocal++
		r.e.note("folder %q: removed %s, left by an interrupted download of a message since deleted on the server", r.name, k)
	}
	if len(keys) > 0 {
		if err := r.f.SyncDirs(); err != nil {
			return err
		}
	}
	if len(drop) == 0 {
		return nil
	}
	return r.e.db.Commit(r.name, model.StateChange{DeleteDownloads: drop})
}

// deleteLocal removes the files of messages expunged on the server.
func (r *folderRun) deleteLocal(refs []plan.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	for _, x := range refs {
		err := r.f.Remove(x.Key)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		crashpoint.Step("maildir-unlink")
		r.sum.DeletedLocal++
	}
	// The removals are durable before the pairs are forgotten.
	if err := r.f.SyncDirs(); err != nil {
		return err
	}
	ch := model.StateChange{}
	for _, x := range refs {
		ch.DeletePairs = append(ch.DeletePairs, x.UID)
	}
	return r.e.db.Commit(r.name, ch)
}

// expungeRemote expunges, with UID EXPUNGE, exactly the messages whose
// files were removed. A file that turns up again (renamed by another
// program during the scan) is not taken for deleted.
func (r *folderRun) expungeRemote(ctx context.Context, refs []plan.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	var gone []plan.Ref
	for _, x := range refs {
		if _, err := r.f.Lookup(x.Key); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		gone = append(gone, x)
	}
	if len(gone) == 0 {
		return nil
	}
	uids := make([]model.UID, len(gone))
	for i, x := range gone {
		uids[i] = x.UID
	}
	err := r.c.Expunge(ctx, uids)
	if errors.Is(err, imapconn.ErrExpungeDeferred) {
		r.e.warn("folder %q: %v", r.name, err)
		return nil
	}
	// Expunged, but under a new UIDVALIDITY: the pairs go (else the
	// retry would take their files' deletions for a conflict with the
	// new UIDVALIDITY), then the folder starts over.
	renumbered := errors.Is(err, imapconn.ErrValidityChangedByExpunge)
	if err != nil && !renumbered {
		return fmt.Errorf("expunge: %w", err)
	}
	crashpoint.Step("imap-expunge")
	r.sum.ExpungedRemote += len(gone)
	ch := model.StateChange{}
	for _, x := range gone {
		ch.DeletePairs = append(ch.DeletePairs, x.UID)
		ch.DeleteIntents = append(ch.DeleteIntents, x.Key)
	}
	if cerr := r.e.db.Commit(r.name, ch); cerr != nil || !renumbered {
		return cerr
	}
	return fmt.Errorf("expunge: %w", err)
}

// download fetches new server messages into the Maildir, in batches.
// Each message is streamed into the folder's tmp/ as it arrives
// (converted to LF line endings, fsynced), never held in memory; the
// batch's download intents (content of each message, learned while
// streaming) are committed before any of its files is renamed into new/
// or cur/; each file is durable (renamed, directory fsynced) before the
// commit that names it and forgets its intent. A crash in between leaves
// files the next run recognises by their intents: paired again by
// content, or removed when the server's message is gone meanwhile, never
// uploaded. A crash before the intents are committed leaves only tmp/
// files, which no one reads and CleanTmp removes.
func (r *folderRun) download(ctx context.Context, dls []plan.Download) error {
	if len(dls) == 0 {
		return nil
	}
	var total int64
	for _, d := range dls {
		total += d.Size
	}
	r.e.opts.Progress.Plan(len(dls), total)
	for lo := 0; lo < len(dls); {
		hi, size := lo, int64(0)
		for hi < len(dls) && hi-lo < downloadBatchMsgs && (hi == lo || size+dls[hi].Size <= downloadBatchBytes) {
			size += dls[hi].Size
			hi++
		}
		if err := r.downloadBatch(ctx, dls[lo:hi]); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// stagedDownload is a downloaded message in tmp/, not yet delivered.
type stagedDownload struct {
	st       *maildir.Staged
	uid      model.UID
	flags    model.Flags
	keywords model.Keywords
	sum      model.LocalSum
}

func (r *folderRun) downloadBatch(ctx context.Context, dls []plan.Download) error {
	uids := make([]model.UID, len(dls))
	for i, d := range dls {
		uids[i] = d.UID
	}
	var staged []stagedDownload
	copyBuf := make([]byte, 32<<10) // one for the batch, not one per message
	defer func() {
		for _, s := range staged {
			s.st.Discard() // nothing after Deliver
		}
	}()
	err := r.c.FetchBodies(ctx, uids, func(m model.Message) error {
		if err := ctx.Err(); err != nil {
			return err // interrupted: stop at once
		}
		var sum model.LocalSum
		st, err := r.f.StageFile(func(fh *os.File) error {
			w := model.NewLocalFormWriter(fh)
			if _, err := io.CopyBuffer(w, m.Body, copyBuf); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			var err error
			sum, err = w.Sum()
			return err
		}, m.InternalDate)
		if err != nil {
			return err
		}
		staged = append(staged, stagedDownload{st: st, uid: m.UID, flags: m.Flags, keywords: m.Keywords, sum: sum})
		return nil
	})
	if err != nil {
		return err
	}
	if len(staged) == 0 {
		return nil // gone from the server since the listing
	}
	ch := model.StateChange{}
	for _, s := range staged {
		ch.PutDownloads = append(ch.PutDownloads, model.DownloadIntent{UID: s.uid,
			Fingerprint: s.sum.Fingerprint, Hash: s.sum.Hash})
	}
	if err := r.e.db.Commit(r.name, ch); err != nil {
		return err
	}
	var pairs []model.Pair
	commit := func() error {
		if len(pairs) == 0 {
			return nil
		}
		if err := r.f.SyncDirs(); err != nil {
			return err
		}
		ch := model.StateChange{PutPairs: pairs}
		for _, p := range pairs {
			ch.DeleteDownloads = append(ch.DeleteDownloads, p.UID)
		}
		return r.e.db.Commit(r.name, ch)
	}
	for _, s := range staged {
		if err := ctx.Err(); err != nil {
			if cerr := commit(); cerr != nil {
				return cerr
			}
			return err
		}
		letters := ""
		if r.kw != nil {
			letters, _ = r.kw.LettersOf(s.keywords)
		}
		en, err := s.st.Deliver(s.flags, letters)
		if err != nil {
			if cerr := commit(); cerr != nil {
				return cerr
			}
			return err
		}
		crashpoint.Step("maildir-deliver")
		pairs = append(pairs, model.Pair{UID: s.uid, Key: en.Key, Flags: s.flags, Keywords: s.keywords,
			Size: en.Size, ModTime: en.ModTime.UnixNano(), Ino: en.Ino, Hash: s.sum.Hash, Fingerprint: s.sum.Fingerprint})
		r.sum.Downloaded++
		r.sum.BytesDown += s.sum.WireSize
		r.e.opts.Progress.Done(1, s.sum.WireSize)
	}
	return commit()
}

// upload APPENDs new Maildir messages in batches: the batch's intents are
// committed before the first APPEND is sent, and each pair as soon as its
// APPENDUID is known. A message the server refuses (NO or BAD) is skipped
// with an error naming its file, and the others go on. It reports whether
// some UID stayed unknown.
func (r *folderRun) upload(ctx context.Context, ups []plan.Upload, unkept model.Flags) (bool, error) {
	if len(ups) == 0 {
		return false, nil
	}
	r.e.opts.Progress.Plan(len(ups), 0)
	unresolved := false
	sent := map[string]bool{} // confirmed by the server in this call
	// The files of the batch in flight, read while they are sent.
	var files []*os.File
	closeFiles := func() {
		for _, fh := range files {
			fh.Close()
		}
		files = nil
	}
	defer closeFiles()
	for lo := 0; lo < len(ups); {
		closeFiles()
		if err := ctx.Err(); err != nil {
			return false, err
		}
		var reqs []model.AppendReq
		var ens []maildir.Entry
		var intents []model.Intent
		var ids []string // Message-IDs
		var size int64
		hi := lo
		for ; hi < len(ups) && len(reqs) < uploadBatchMsgs && size < uploadBatchBytes; hi++ {
			if sent[ups[hi].Key] {
				continue
			}
			if _, refused := r.refused[ups[hi].Key]; refused {
				continue // said once, when the server refused it
			}
			if seen, ok := r.unconfirmed[ups[hi].Key]; ok {
				if seen {
					continue
				}
				r.unconfirmed[ups[hi].Key] = true
				r.e.warn("folder %q: message %s was uploaded but the server's copy could not be found to learn its UID; it stays unpaired (its upload intent is kept) rather than being uploaded twice", r.name, ups[hi].Key)
				continue
			}
			// Read twice, never held: once for the intent (fingerprint,
			// hash, size with CRLF), once while it is sent.
			fh, en, err := r.f.Open(ups[hi].Key)
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted since the scan
			}
			if err != nil {
				return false, fmt.Errorf("read message %s for upload: %w", ups[hi].Key, err)
			}
			files = append(files, fh)
			fp, hash, crlfSize, err := model.SumLocal(fh, en.Size)
			if err != nil {
				return false, fmt.Errorf("read message %s for upload: %w", filepath.Join(r.f.Path(), en.Dir, en.Name), err)
			}
			reqs = append(reqs, model.AppendReq{Flags: en.Flags &^ unkept, Keywords: r.keywordsOf(en).Filter(r.kwRule.Keeps), Date: en.ModTime,
				Reader: model.NewCRLFReader(io.NewSectionReader(fh, 0, en.Size)), Size: crlfSize})
			ens = append(ens, en)
			ids = append(ids, messageID(fileHead(fh, en.Size)))
			intents = append(intents, model.Intent{Key: en.Key, Fingerprint: fp, Hash: hash, Created: timeNow()})
			size += crlfSize
		}
		batchStart := lo
		lo = hi
		if len(reqs) == 0 {
			continue
		}
		r.e.opts.Progress.Plan(0, size)
		err := r.e.db.Commit(r.name, model.StateChange{PutIntents: intents})
		if err != nil {
			return false, err
		}
		var done []model.Pair
		var noUID []int
		confirmed := make([]bool, len(reqs))
		err = r.c.AppendBatch(ctx, r.name, reqs, func(i int, res model.AppendResult) error {
			crashpoint.Step("imap-append")
			confirmed[i] = true
			sent[ens[i].Key] = true
			r.sum.Uploaded++
			r.sum.BytesUp += reqs[i].Len()
			r.e.opts.Progress.Done(1, reqs[i].Len())
			if res.UID == 0 || res.UIDValidity != r.status.UIDValidity {
				noUID = append(noUID, i) // found below, or paired by content in the next pass
				return nil
			}
			// The flags the server cannot store stay in the Maildir.
			done = append(done, r.uploadedPair(res.UID, ens[i], intents[i]))
			return nil
		})
		if len(noUID) > 0 && err == nil && r.status.UIDNext != 0 {
			// (Without UIDNEXT the server's new messages are not told
			// from the old ones.)
			found, ferr := r.findAppended(ctx, ens, ids, intents, noUID)
			if ferr != nil {
				return false, ferr
			}
			done = append(done, found...)
			noUID = slices.DeleteFunc(noUID, func(i int) bool { return pairsHaveKey(found, ens[i].Key) })
		}
		for _, i := range noUID {
			unresolved = true                 // paired by content in the next pass
			r.unconfirmed[ens[i].Key] = false // true once warned about
		}
		if len(done) > 0 {
			cerr := r.commitPairs(done, true)
			if err == nil {
				err = cerr
			}
			if cerr == nil {
				for _, p := range done {
					r.passUploaded = append(r.passUploaded, p.UID)
				}
			}
		}
		var refused *imapconn.AppendRefusedError
		if errors.As(err, &refused) && refused.Index < len(ens) {
			// Not stored: forget its intent, say so once, and send the
			// rest of the batch again (on this connection if it still
			// works, else the retry on a new one skips it).
			en := ens[refused.Index]
			if cerr := r.e.db.Commit(r.name, model.StateChange{DeleteIntents: []string{en.Key}}); cerr != nil {
				return false, cerr
			}
			msg := fmt.Sprintf("folder %q: message %s was refused by the server and skipped (%v); fix or remove the file, the next run tries it again",
				r.name, filepath.Join(r.f.Path(), en.Dir, en.Name), refused.Err)
			r.refused[en.Key] = msg
			r.sum.Skipped++
			r.sum.Errors = append(r.sum.Errors, msg)
			r.e.note("error: %s", msg)
			if imapconn.IsRetryable(err) {
				return false, err
			}
			lo = batchStart
			continue
		}
		if err != nil {
			return false, fmt.Errorf("append %s: %w", unconfirmedNames(r.f, ens, confirmed), err)
		}
	}
	return unresolved, nil
}

// findAppended finds on the server the messages of a batch stored
// without an APPENDUID (no UIDPLUS): a message whose Message-ID matches
// exactly one message of the folder with a UID the folder did not have
// at SELECT is that message, even when the server changed it on the way
// (Dovecot drops a CR before a line end), which pairing by content could
// not see. Such a change is said once, naming the file. The others are
// left to pairing by content.
func (r *folderRun) findAppended(ctx context.Context, ens []maildir.Entry, msgIDs []string, intents []model.Intent, idx []int) ([]model.Pair, error) {
	var found []model.Pair
	taken := map[model.UID]bool{}
	ids := map[string]int{}
	for _, i := range idx {
		ids[msgIDs[i]]++
	}
	for _, i := range idx {
		id := msgIDs[i]
		if id == "" || ids[id] > 1 {
			continue // two uploads with one Message-ID: content tells them apart
		}
		uids, err := r.c.FindByMessageID(ctx, id, r.status.UIDNext)
		if err != nil && !imapconn.IsRetryable(err) {
			break // a server that cannot search headers: pairing by content it is
		}
		if err != nil {
			return nil, fmt.Errorf("find uploaded message %s: %w", ens[i].Key, err)
		}
		if len(uids) != 1 || taken[uids[0]] {
			continue
		}
		u := uids[0]
		fps, err := r.c.Fingerprints(ctx, []model.UID{u})
		if err != nil {
			return nil, fmt.Errorf("find uploaded message %s: %w", ens[i].Key, err)
		}
		fp, ok := fps[u]
		if !ok {
			continue // gone meanwhile
		}
		if fp != intents[i].Fingerprint {
			r.e.warn("folder %q: the server changed this message on upload: %s (its copy has another size or header than the file; the two stay paired, the file is not changed)",
				r.name, filepath.Join(r.f.Path(), ens[i].Dir, ens[i].Name))
		}
		taken[u] = true
		found = append(found, r.uploadedPair(u, ens[i], intents[i]))
	}
	return found, nil
}

func pairsHaveKey(pairs []model.Pair, key string) bool {
	return slices.ContainsFunc(pairs, func(p model.Pair) bool { return p.Key == key })
}

// fileHead returns the start of a message file (size bytes), where its
// header is.
func fileHead(fh *os.File, size int64) []byte {
	b := make([]byte, min(size, 64<<10))
	n, _ := fh.ReadAt(b, 0)
	return b[:n]
}

// messageID returns the Message-ID of a message (with its angle
// brackets), or "" when it has none.
func messageID(msg []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(model.HeaderBlock(msg)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m.Header.Get("Message-Id"))
}

// unconfirmedNames names, for an error, the files of a batch the server
// did not confirm.
func unconfirmedNames(f LocalFolder, ens []maildir.Entry, confirmed []bool) string {
	var names []string
	for i, en := range ens {
		if !confirmed[i] {
			names = append(names, filepath.Join(f.Path(), en.Dir, en.Name))
		}
	}
	switch len(names) {
	case 0:
		return "batch"
	case 1:
		return names[0]
	}
	return fmt.Sprintf("%s and %d more", names[0], len(names)-1)
}
