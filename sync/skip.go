package sync

import (
	"context"
	"time"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync/plan"
)

// Skipping untouched folders. A sync that leaves a folder fully in step
// records what both sides looked like (statedb.Skip: the server's
// UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ from its last SELECT,
// the nanosecond mtimes of new/ and cur/ read before its last listing of
// the Maildir folder). The next run asks the server for the STATUS of
// every folder in one round trip and stats two directories per folder;
// a folder whose values are all the same, on a CONDSTORE server, with no
// unfinished work in the state, is left alone (plan.Skip): no SELECT, no
// scan, no pair decoded, no connection of its own. A no-op run costs
// O(folders), whatever the number of messages.
//
// What a skip cannot see: a message file rewritten in place (no rename)
// changes neither directory's mtime. Such an edit is found when the
// folder's edit check is due (editCheckDue: a Skip record is trusted for
// FullListingAge at most), with --full, or by watch mode's targeted
// passes. Flags live in file names, and a rename changes cur/'s mtime.

// FullListingAge is how old a Skip record may be: every folder is
// listed in full at least that often, so that a file rewritten in place
// without a rename (which moves no directory mtime) is seen within it.
const FullListingAge = time.Hour

// skipUnchanged calls toSync with each of folders that needs syncing
// and its number of messages as last known (0: unknown), as soon as it
// knows: first those synced whatever the server says (their
// Maildir side changed, no record, pending work: plan.MaySkip; no STATUS
// is asked of them), then each other one whose STATUS answer shows a
// change (plan.Skip), as the answers arrive, so that workers start on it
// while the server answers for the rest. The others are reported done
// (FolderDone) with nothing to do. Without CONDSTORE every folder is
// synced.
func (e *engine) skipUnchanged(ctx context.Context, c conn, folders []string, toSync func(name string, size uint32)) {
	if !c.Caps().CondStore || e.opts.Full {
		for _, name := range folders {
			toSync(name, 0)
		}
		return
	}
	now := time.Now().UnixNano()
	var cands []skipCand
	var names []string
	for _, name := range folders {
		si, err := e.db.LoadSkip(name)
		if err != nil || si.Skip == (statedb.Skip{}) {
			toSync(name, 0) // synced in full; Load reports a damaged state
			continue
		}
		f, err := e.md.Folder(name)
		if err != nil {
			toSync(name, si.Skip.Messages)
			continue
		}
		cd := skipCand{name: name, f: f, info: si, stamp: stampNanos(f.ChangeStamp())}
		if !plan.MaySkip(cd.input(now, model.FolderStatus{}, false)) {
			toSync(name, si.Skip.Messages) // synced whatever the server says: no STATUS
			continue
		}
		cands = append(cands, cd)
		names = append(names, name)
	}
	if len(cands) == 0 {
		return
	}
	byName := make(map[string]skipCand, len(cands))
	for _, cd := range cands {
		byName[cd.name] = cd
	}
	decided := make(map[string]bool, len(cands))
	// A broken connection (an error) leaves the folders not yet
	// answered for undecided: synced below, and the worker on c finds
	// the connection broken and dials again.
	c.Statuses(ctx, names, func(name string, st model.FolderStatus) {
		cd, ok := byName[name]
		if !ok || decided[name] {
			return
		}
		decided[name] = true
		if plan.Skip(cd.input(now, st, true)) != plan.SkipOK {
			toSync(name, st.Messages)
			return
		}
		e.skipped(cd)
	})
	for _, cd := range cands {
		if !decided[cd.name] {
			toSync(cd.name, cd.info.Skip.Messages) // no answer for it: synced in full
		}
	}
}

// skipped cleans a skipped folder's stale deliveries (a directory read
// each), but in a dry run, which changes nothing, and reports it done.
func (e *engine) skipped(cd skipCand) {
	if !e.opts.DryRun {
		if err := cd.f.CleanTmp(staleTmpAge); err != nil {
			e.warn("folder %q: %v", cd.name, err)
		}
		if err := cd.f.CleanStaged(e.started); err != nil {
			e.warn("folder %q: %v", cd.name, err)
		}
	}
	if e.opts.FolderDone != nil {
		e.opts.FolderDone(cd.name, Summary{}, 0, nil)
	}
}

// skipCand is a folder skipUnchanged considers: its Maildir folder, its
// Skip record and the mtimes of its new/ and cur/ now.
type skipCand struct {
	name  string
	f     LocalFolder
	info  statedb.SkipInfo
	stamp [2]int64
}

// input is the folder's plan.SkipInput at now, given the server's STATUS
// (have: it answered).
func (cd skipCand) input(now int64, st model.FolderStatus, have bool) plan.SkipInput {
	return plan.SkipInput{CondStore: true, Status: st, HaveStatus: have, NewMtime: cd.stamp[0], CurMtime: cd.stamp[1],
		Recorded: skipRecord(cd.info.Skip), Pending: cd.info.Pending, Now: now, MaxAge: int64(FullListingAge)}
}

// recordSkip stores the folder's Skip record once the run has left it
// in step (every pass done, nothing refused, held back or left
// unconfirmed); otherwise the Commits of the run have deleted it. When
// the Maildir folder changed during the last pass (the pass's own
// deliveries and renames, or another program's), it reads the folder's
// directories once more and records their mtimes only if nobody but the
// pass changed them (settleLocal).
func (r *folderRun) recordSkip(ctx context.Context) error {
	if !r.c.Caps().CondStore || len(r.sum.Errors) > 0 || r.sum.Skipped > 0 || len(r.refused) > 0 ||
		r.blockedSaid || len(r.unconfirmed) > 0 {
		return r.commitMeta()
	}
	rec := plan.RecordSkip(true, r.status, r.passServerChanged, r.pre, r.readAt, stampNanos(r.f.ChangeStamp()))
	m := r.meta
	r.meta = nil
	if rec == (plan.SkipRecord{}) && !r.passServerChanged && r.status.HighestModSeq != 0 {
		// The pass changed the Maildir folder: settleLocal waits for
		// the mtimes to be trustworthy and reads the folder again. That
		// runs beside the connection's next folder; the run waits for
		// it before it ends (engine.settling).
		r.e.settling.Add(1)
		r.settling = true
		exact := r.exact
		go func() {
			defer r.e.settling.Done()
			rec := r.settleLocal(ctx)
			if rec != (plan.SkipRecord{}) {
				rec.Listed, rec.Exact = r.checked, exact
			}
			if err := r.e.db.SetSkip(r.name, statedb.Skip(rec), m); err != nil {
				r.e.folderError(r.name, err)
			}
		}()
		return nil
	}
	if rec != (plan.SkipRecord{}) {
		rec.Listed, rec.Exact = r.checked, r.exact
	}
	return r.e.db.SetSkip(r.name, statedb.Skip(rec), m)
}

// editCheckDue says whether this run's sync of a folder stats its paired
// files to find those edited (a file rewritten in place, in the same
// inode, moves no directory mtime, so no cheaper sign tells it): when
// the folder's last check is older than FullListingAge, unknown, or with
// Options.Full (--full, and watch mode's targeted passes). Otherwise it
// returns the time of the last check, which the folder's next Skip
// record carries on, so that a folder changed every few minutes is still
// checked every FullListingAge, and the Skip record (its mtimes of new/
// and cur/: see localUntouched).
func (e *engine) editCheckDue(name string) (due bool, checked int64, rec plan.SkipRecord) {
	si, err := e.db.LoadSkip(name)
	if err != nil {
		return true, 0, plan.SkipRecord{}
	}
	rec = skipRecord(si.Skip)
	if e.opts.Full || si.Skip.Listed == 0 || time.Now().UnixNano()-si.Skip.Listed > int64(FullListingAge) {
		return true, 0, rec
	}
	return false, si.Skip.Listed, rec
}

// localUntouched reports whether the Maildir folder's directories are as
// the last run left them in step (pre, read before the listing, equals
// the Skip record's mtimes): nothing was delivered, renamed or removed
// there since, so no file can have been saved again under its name by a
// rename. When it is false the paired files are stat'ed: a file saved
// again by a rename has a new mtime, while its inode number, which the
// listing gives for free, may be the old one's again (file systems
// reuse a freed inode at once).
func localUntouched(pre, recorded [2]int64) bool {
	return recorded[0] != 0 && recorded[1] != 0 && pre == recorded
}

// commitMeta commits what the last pass found to record (r.meta), if
// anything.
func (r *folderRun) commitMeta() error {
	m := r.meta
	r.meta = nil
	if m == nil {
		return nil
	}
	return r.e.db.Commit(r.name, model.StateChange{Meta: m})
}

// settleLocal reads the Maildir folder's directories again, once their
// mtimes are old enough to be trusted (waiting for that at most
// plan.FineMtimeMargin), and records them when the folder holds exactly
// what the last pass listed plus the pass's own changes
// (LocalFolder.Unchanged): nobody else changed it, so it is in step.
// Otherwise (or on any error) the record is zero and the next run syncs
// the folder in full.
func (r *folderRun) settleLocal(ctx context.Context) plan.SkipRecord {
	defer r.f.Unwatch()
	now := stampNanos(r.f.ChangeStamp())
	latest := max(now[0], now[1])
	if latest <= 0 || plan.MtimeMargin(latest) > plan.FineMtimeMargin {
		return plan.SkipRecord{} // coarse timestamps: not worth waiting seconds for
	}
	if wait := time.Until(time.Unix(0, latest).Add(plan.FineMtimeMargin)); wait > 0 {
		sleep(ctx, wait)
	}
	if ctx.Err() != nil {
		return plan.SkipRecord{}
	}
	readAt := time.Now().UnixNano()
	pre := stampNanos(r.f.ChangeStamp())
	if ok, err := r.f.Unchanged(); !ok || err != nil {
		return plan.SkipRecord{}
	}
	return plan.RecordSkip(true, r.status, false, pre, readAt, stampNanos(r.f.ChangeStamp()))
}

// stampNanos turns a maildir.Stamp into nanoseconds (0: missing).
func stampNanos(s maildir.Stamp) [2]int64 {
	var out [2]int64
	for i, t := range [2]time.Time{s.New, s.Cur} {
		if !t.IsZero() {
			out[i] = t.UnixNano()
		}
	}
	return out
}

func skipRecord(s statedb.Skip) plan.SkipRecord { return plan.SkipRecord(s) }
