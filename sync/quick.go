package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mailsync/mailsync/internal/nameset"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// Quick passes (plan.Quick). After a sync left a folder in step, a run
// plans only the messages that changed since, on either side: one
// SELECT, the messages CHANGEDSINCE the stored HIGHESTMODSEQ, a summary
// of every stored pair (no key, hash or fingerprint made into a string:
// pairTable), and one read of new/ and cur/ that compares each file with
// its pair as it reads it (plan.LocalUnchanged: the name's flags and
// keywords, the inode number and, when the paired files are stat'ed, the
// size and mtime) and makes Go values of the files that differ, of those
// no pair names, and of those of messages the server changed. Only the
// pairs of those, of the files gone and of the messages the server
// changed or expunged are decoded. What it needs first:
//
//   - the state holds no unfinished work, the UIDVALIDITY is the same,
//     and no flag or keyword stays on one side (plan.Quick);
//   - no two pairs name one key and no key has two files;
//   - new/ and cur/ kept their mtimes while the pass listed them.
//
// When only the server changed and the folder's Skip record says the
// Maildir folder held exactly one file per pair and nothing else (Exact:
// the last quick pass proved it and made only changes that keep it, see
// plan.KeepsExact), the pass reads neither directory: each changed
// message's file is where its pair's flags and keywords name it
// (listServerKnown, plan.KnownFiles). Its settling reads nothing either
// (a watch, see maildir.Folder.Watch), so a resync after changes on the
// server alone costs O(changes) on the Maildir side.
//
// Otherwise the pass is a whole one, having changed nothing. One quick
// pass at a time reads and compares (engine.planning), so that a run
// holds one folder's summaries and listing at a time. The paired
// files are stat'ed, one fstatat each while the directory is read, when
// a whole pass would stat them: the Maildir folder changed since the
// last in-step run, or the edit check is due.

// ListingGCPercent, when above zero, is the garbage collector's
// percentage (debug.SetGCPercent) while a quick pass reads a folder's
// directories and compares them with its pairs' table: the run's largest
// memory (the listing, the table, the directory buffers), live until the
// pass is planned, while what else the run allocates meanwhile (other
// connections' transfers) is soon garbage. Collecting when the heap has
// grown by a tenth rather than by the binary's half (GOGC 50) lowered the
// peak RSS of a resync after local changes over 60,000 messages by
// 4.8 MiB, for 7% more of its CPU. One quick pass at a time reads
// (engine.planning), so the setting is changed and put back in turn. Zero
// (the default) leaves the collector alone; the mailsync binary sets 10
// unless GOGC is set.
var ListingGCPercent int

// listingGCSet counts the quick passes that set ListingGCPercent (for
// tests).
var listingGCSet atomic.Int64

// quickPass makes the run's first pass over the folder a quick one when
// it can. done is false when it cannot: nothing was changed, and a
// whole pass follows.
func (r *folderRun) quickPass(ctx context.Context) (again, done bool, err error) {
	if !r.c.Caps().CondStore {
		return false, false, nil
	}
	readAt := time.Now().UnixNano()
	pre := stampNanos(r.f.ChangeStamp())
	stat := r.checkEdits || !localUntouched(pre, r.recorded)
	st, err := r.e.db.LoadHead(r.name)
	if err != nil {
		return false, false, err
	}
	status, err := r.c.Select(ctx, r.name, false)
	if err != nil {
		return false, false, fmt.Errorf("select: %w", err)
	}
	status.Unkept = r.c.Unkept()
	in := plan.QuickInput{CondStore: true, State: st, Status: status, FirstPass: true}
	if plan.Quick(in) != plan.QuickOK {
		return false, false, nil
	}
	changed, err := r.c.ListMessages(ctx, st.HighestModSeq)
	if err != nil {
		return false, false, fmt.Errorf("list messages on the server: %w", err)
	}
	select {
	case r.e.planning <- struct{}{}:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	held := true
	restoreGC := func() {}
	release := func() {
		if held {
			restoreGC()
			<-r.e.planning
			held = false
		}
	}
	defer release()
	var q quickListing
	var ok bool
	r.exact = false
	if !stat && plan.KnownFiles(plan.SkipRecord{NewMtime: r.recorded[0], CurMtime: r.recorded[1], Exact: r.recordExact}, pre, r.checkEdits) {
		ok, err = r.listServerKnown(ctx, st, status, changed, pre, &q)
		if err != nil {
			return false, false, err
		}
	}
	unlisted := ok
	if !ok && ListingGCPercent > 0 {
		// The directories are read and compared with the pairs' table:
		// see ListingGCPercent. Put back when the slot is released.
		old := debug.SetGCPercent(ListingGCPercent)
		listingGCSet.Add(1)
		restoreGC = func() { debug.SetGCPercent(old) }
	}
	switch {
	case ok:
	case !stat:
		var unproven bool
		ok, unproven, err = r.listServerChanged(ctx, st, status, changed, pre, &q)
		if unproven {
			// A file of no pair (kept under pull, say): every file is
			// compared with its pair instead.
			ok, err = r.listChanged(ctx, st, status, changed, pre, false, &q)
		}
	default:
		ok, err = r.listChanged(ctx, st, status, changed, pre, true, &q)
	}
	if err != nil || !ok {
		return false, false, err
	}
	release()
	r.status, r.kwRule = status, r.c.KeywordRule()
	r.readAt, r.pre = readAt, pre
	again, err = r.planAndApply(ctx, q.st, q.remote, q.entries, q.total)
	if errors.Is(err, errNotQuick) {
		return false, false, nil
	}
	if err == nil {
		r.sum.QuickPasses++
		if unlisted {
			r.sum.QuickUnlisted++
		}
	}
	return again, true, err
}

// quickListing is what a quick pass plans: the state with the pairs of
// the messages changed on either side, those messages on the server and
// their files, and the folder's number of pairs.
type quickListing struct {
	st      *model.FolderState
	remote  []model.RemoteMsg
	entries []maildir.Entry
	total   int
}

// serverDelta works out what changed on the server from the pairs' UIDs
// (plan.Changes), asking the server for its UIDs when the counts say
// something was expunged. ok is false when the folder must be listed in
// full.
func (r *folderRun) serverDelta(ctx context.Context, pairUIDs []model.UID, changed []model.RemoteMsg, status model.FolderStatus) (plan.ServerDelta, bool, error) {
	d, needUIDs, ok := plan.Changes(pairUIDs, changed, nil, false, status.Messages)
	if needUIDs {
		uids, err := r.c.UIDs(ctx)
		if err != nil {
			return d, false, fmt.Errorf("list messages on the server: %w", err)
		}
		d, _, ok = plan.Changes(pairUIDs, changed, uids, true, status.Messages)
	}
	return d, ok, nil
}

// listServerChanged lists a quick pass when the Maildir folder is as
// the last in-step run left it (its directories have the recorded
// mtimes) and no edit check is due: only the server changed, so the
// pass needs the pairs and files of the messages it changed alone. The
// pairs' keys are read but not decoded, and the folder is proved to
// hold exactly one file per pair and nothing else (the set of its files'
// keys equals the set of the pairs' keys, compared as keyed-hash sums);
// otherwise ok is false, and unproven says it was that proof which
// failed (listChanged can still list the pass).
func (r *folderRun) listServerChanged(ctx context.Context, st *model.FolderState, status model.FolderStatus, changed []model.RemoteMsg, pre [2]int64, q *quickListing) (ok, unproven bool, err error) {
	var pairUIDs []model.UID
	var pairKeys nameset.Set
	r.sum.PairWalks++
	if err := r.e.db.PairKeys(r.name, func(uid model.UID, key []byte) {
		pairUIDs = append(pairUIDs, uid)
		pairKeys.AddBytes(key)
	}); err != nil {
		return false, false, err
	}
	d, ok, err := r.serverDelta(ctx, pairUIDs, changed, status)
	if err != nil || !ok {
		return false, false, err
	}
	pairs, err := r.e.db.LoadPairs(r.name, d.Load)
	if err != nil {
		return false, false, err
	}
	if len(pairs) != len(d.Load) {
		return false, false, nil // changed since PairKeys: only this process writes it, but be sure
	}
	want := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		want[p.Key] = true
	}
	var fileKeys nameset.Set
	r.sum.Listings++
	entries, err := r.f.ListSome(func() { fileKeys = nameset.Set{} }, func(v *maildir.FileView) bool {
		fileKeys.AddBytes(v.Key)
		return want[string(v.Key)]
	})
	if err != nil {
		return false, false, err
	}
	if stampNanos(r.f.ChangeStamp()) != pre {
		return false, false, nil
	}
	if fileKeys != pairKeys {
		return false, true, nil
	}
	r.exact = true
	st.Pairs = pairs
	*q = quickListing{st: st, remote: d.Changed, entries: entries, total: len(pairUIDs)}
	return true, false, nil
}

// listServerKnown is listServerChanged without reading the Maildir
// folder, when its Skip record says it held exactly one file per pair
// and nothing else, and its directories kept the record's mtimes
// (plan.KnownFiles): the file of each message the server changed is
// where its pair's flags and keywords name it (maildir FindFile). ok is
// false, nothing changed, when one is not there (a name another program
// gave it, flags the server cannot keep) or the directories changed
// meanwhile: the folder is then listed.
func (r *folderRun) listServerKnown(ctx context.Context, st *model.FolderState, status model.FolderStatus, changed []model.RemoteMsg, pre [2]int64, q *quickListing) (bool, error) {
	d, pairs, total, ok, err := r.knownDelta(ctx, changed, status)
	if err != nil || !ok {
		return false, err
	}
	kw, err := r.f.Keywords()
	if err != nil {
		return false, err
	}
	entries := make([]maildir.Entry, 0, len(pairs))
	for _, p := range pairs {
		letters, missing := kw.LettersOf(p.Keywords)
		if len(missing) > 0 {
			return false, nil
		}
		e, found := r.f.FindFile(p.Key, p.Flags, letters)
		if !found {
			return false, nil
		}
		entries = append(entries, e)
	}
	if stampNanos(r.f.ChangeStamp()) != pre {
		return false, nil
	}
	r.f.SetKnown(entries)
	r.exact = true
	st.Pairs = pairs
	*q = quickListing{st: st, remote: d.Changed, entries: entries, total: total}
	return true, nil
}

// knownDelta is listServerKnown's server delta and the pairs it loads
// (those of d.Load), and the folder's number of pairs. Where the state
// keeps that number (statedb.PairCount) and the counts prove nothing was
// expunged, only the pairs of the changed messages are read
// (plan.ChangesCounted): no walk over the folder's pairs, which is most
// of such a pass's work on a large folder. Otherwise the pairs' UIDs are
// read and, when the counts disagree, the server's (serverDelta).
func (r *folderRun) knownDelta(ctx context.Context, changed []model.RemoteMsg, status model.FolderStatus) (d plan.ServerDelta, pairs []model.Pair, total int, ok bool, err error) {
	total, counted, err := r.e.db.PairCount(r.name)
	if err != nil {
		return d, nil, 0, false, err
	}
	if counted {
		uids := make([]model.UID, len(changed))
		for i, m := range changed {
			uids[i] = m.UID
		}
		slices.Sort(uids)
		uids = slices.Compact(uids)
		pairs, err = r.e.db.LoadPairs(r.name, uids)
		if err != nil {
			return d, nil, 0, false, err
		}
		paired := make([]model.UID, len(pairs))
		for i, p := range pairs {
			paired[i] = p.UID
		}
		if d, ok = plan.ChangesCounted(total, paired, changed, status.Messages); ok {
			return d, pairs, total, true, nil
		}
	}
	var pairUIDs []model.UID
	r.sum.PairWalks++
	if err := r.e.db.PairKeys(r.name, func(uid model.UID, _ []byte) {
		pairUIDs = append(pairUIDs, uid)
	}); err != nil {
		return d, nil, 0, false, err
	}
	d, ok, err = r.serverDelta(ctx, pairUIDs, changed, status)
	if err != nil || !ok {
		return d, nil, 0, false, err
	}
	pairs, err = r.e.db.LoadPairs(r.name, d.Load)
	if err != nil || len(pairs) != len(d.Load) {
		return d, nil, 0, false, err
	}
	return d, pairs, len(pairUIDs), true, nil
}

// listChanged lists a quick pass when the Maildir folder changed since
// the last in-step run (or its edit check is due; then stat is set), or
// holds a file of no pair: every file is compared with its pair's
// summary as the directories are read (plan.LocalUnchanged, with a stat
// of each paired file when stat is set), and the pass
// plans the files that differ, those of no pair, the pairs whose file
// is gone, and the messages the server changed. ok is false when two
// pairs or two files have one key, or the directories changed while
// they were read.
func (r *folderRun) listChanged(ctx context.Context, st *model.FolderState, status model.FolderStatus, changed []model.RemoteMsg, pre [2]int64, stat bool, q *quickListing) (bool, error) {
	tab := &r.e.tab
	tab.reset()
	tab.grow(int(status.Messages) + int(status.Messages)/32)
	r.sum.PairWalks++
	if err := r.e.db.PairSummaries(r.name, tab.add); err != nil {
		return false, err
	}
	tab.index()
	if tab.dupKey {
		return false, nil
	}
	pairUIDs := tab.uids()
	d, ok, err := r.serverDelta(ctx, pairUIDs, changed, status)
	if err != nil || !ok {
		return false, err
	}
	for _, u := range d.Load {
		if i, found := slices.BinarySearch(pairUIDs, u); found {
			tab.ents[i].server = true
		}
	}
	kw, err := r.f.Keywords()
	if err != nil {
		return false, err
	}
	dupFile := false
	start := func() {
		dupFile = false
		for i := range tab.ents {
			tab.ents[i].seen, tab.ents[i].local = false, false
		}
	}
	r.sum.Listings++
	entries, err := r.f.ListSome(start, func(v *maildir.FileView) bool {
		e := tab.find(v.Key)
		if e == nil {
			return true // a file of no pair
		}
		if e.seen {
			dupFile = true
			return true
		}
		e.seen = true
		if e.server {
			return true
		}
		l := model.LocalMsg{Flags: v.Flags, Ino: v.Ino}
		if n := keywordLetters(v.Info); n > 0 {
			names := kw.NamesOf(string(v.Info))
			if len(names) != n {
				// A letter the keyword map does not name: planned,
				// as the pass may give it a name (prepareKeywords).
				e.local = true
				return true
			}
			l.Keywords = model.NewKeywords(names...)
		}
		if stat {
			l.Size, l.ModTime, _ = v.Stat()
		}
		if plan.LocalUnchanged(tab.pair(e), l, stat) {
			return false
		}
		e.local = true
		return true
	})
	if err != nil {
		return false, err
	}
	if dupFile || stampNanos(r.f.ChangeStamp()) != pre {
		return false, nil
	}
	var load []model.UID
	for _, e := range tab.ents {
		if e.server || e.local || !e.seen {
			load = append(load, e.uid)
		}
	}
	pairs, err := r.e.db.LoadPairs(r.name, load)
	if err != nil {
		return false, err
	}
	if len(pairs) != len(load) {
		return false, nil // changed since PairSummaries: only this process writes it, but be sure
	}
	st.Pairs = pairs
	// The server's side of the messages planned: what CHANGEDSINCE
	// reported, and for the pairs of files that changed, the flags the
	// pair remembers (unchanged on the server, as plan.Merge has it).
	remote := slices.Clone(d.Changed)
	for _, p := range pairs {
		if !tab.ents[indexOfUID(pairUIDs, p.UID)].server {
			remote = append(remote, model.RemoteMsg{UID: p.UID, Flags: p.Flags, Keywords: p.Keywords})
		}
	}
	slices.SortFunc(remote, func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) })
	*q = quickListing{st: st, remote: remote, entries: entries, total: len(pairUIDs)}
	return true, nil
}

// indexOfUID returns the index of u in uids (sorted), which holds it.
func indexOfUID(uids []model.UID, u model.UID) int {
	i, _ := slices.BinarySearch(uids, u)
	return i
}

// keywordLetters counts the keyword letters (a to z) of a file name's
// info part.
func keywordLetters(info []byte) int {
	n := 0
	for _, c := range info {
		if c >= 'a' && c <= 'z' {
			n++
		}
	}
	return n
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
