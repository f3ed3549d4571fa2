package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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
// Otherwise the pass is a whole one, having changed nothing. The paired
// files are stat'ed, one fstatat each while the directory is read, when
// a whole pass would stat them: the Maildir folder changed since the
// last in-step run, or the edit check is due.

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
	var tab pairTable
	tab.grow(int(status.Messages) + int(status.Messages)/32)
	if err := r.e.db.PairSummaries(r.name, tab.add); err != nil {
		return false, false, err
	}
	tab.index()
	if tab.dupKey {
		return false, false, nil
	}
	pairUIDs := tab.uids()
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
	for _, u := range d.Load {
		if i, found := slices.BinarySearch(pairUIDs, u); found {
			tab.ents[i].server = true
		}
	}
	kw, err := r.f.Keywords()
	if err != nil {
		return false, false, err
	}
	dupFile := false
	start := func() {
		dupFile = false
		for i := range tab.ents {
			tab.ents[i].seen, tab.ents[i].local = false, false
		}
	}
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
		if hasKeywordLetters(v.Info) {
			l.Keywords = model.NewKeywords(kw.NamesOf(string(v.Info))...)
		}
		if stat {
			l.Size, l.ModTime, _ = v.Stat()
		}
		if plan.LocalUnchanged(e.pair(), l, stat) {
			return false
		}
		e.local = true
		return true
	})
	if err != nil {
		return false, false, err
	}
	if dupFile || stampNanos(r.f.ChangeStamp()) != pre {
		return false, false, nil
	}
	var load []model.UID
	for _, e := range tab.ents {
		if e.server || e.local || !e.seen {
			load = append(load, e.uid)
		}
	}
	pairs, err := r.e.db.LoadPairs(r.name, load)
	if err != nil {
		return false, false, err
	}
	if len(pairs) != len(load) {
		return false, false, nil // changed since PairSummaries: only this process writes it, but be sure
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
	r.status, r.kwRule = status, r.c.KeywordRule()
	r.readAt, r.pre = readAt, pre
	again, err = r.planAndApply(ctx, st, remote, entries, len(pairUIDs))
	if errors.Is(err, errNotQuick) {
		return false, false, nil
	}
	if err == nil {
		r.sum.QuickPasses++
	}
	return again, true, err
}

// indexOfUID returns the index of u in uids (sorted), which holds it.
func indexOfUID(uids []model.UID, u model.UID) int {
	i, _ := slices.BinarySearch(uids, u)
	return i
}

// hasKeywordLetters reports whether a file name's info part has a
// keyword letter (a to z).
func hasKeywordLetters(info []byte) bool {
	for _, c := range info {
		if c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
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
