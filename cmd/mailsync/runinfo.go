package main

import (
	"errors"
	"os"
	"time"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/statedb"
)

// recordRun stores the outcome of an account's run in its state file for
// `mailsync status`: per folder the time, result, error, messages on
// each side and whether CONDSTORE is used; for the account its overall
// error. A run that stopped before the state file existed (a failed
// login) records nothing, so that it leaves nothing behind.
func recordRun(a *config.Account, r *accountResult, start time.Time, runErr error) error {
	if _, err := os.Stat(a.State); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := statedb.Open(a.State)
	if err != nil {
		return err
	}
	defer db.Close()
	md, _ := maildir.OpenLayout(a.Maildir, a.Layout)
	runs := map[string]statedb.RunInfo{}
	acct := statedb.RunInfo{Time: start, Duration: time.Duration(r.DurationMS) * time.Millisecond, OK: runErr == nil}
	if runErr != nil {
		acct.Error = runErr.Error()
	}
	runs[statedb.AccountRun] = acct
	for _, f := range r.FolderResults {
		ri := statedb.RunInfo{Time: start, Duration: time.Duration(f.DurationMS) * time.Millisecond, OK: f.OK && len(f.Errors) == 0, Error: f.Error}
		if ri.Error == "" && len(f.Errors) > 0 {
			ri.Error = f.Errors[0]
		}
		var mf *maildir.Folder
		if md != nil {
			mf, _ = md.Folder(f.Folder)
		}
		if n, ok := inStep(db, mf, f.Folder); ok {
			// Unchanged since a run left it in step (the engine skipped
			// it, or just recorded it): counting the server's messages
			// would cost a state decode. In a two-way sync every local
			// message is paired too; under pull, push or deletions =
			// "keep" the Maildir may hold messages the server has not.
			ri.ServerMessages, ri.LocalMessages, ri.CondStore = n, n, true
			if !twoWay(a) {
				if ents, err := mf.List(); err == nil {
					ri.LocalMessages = len(ents)
				}
			}
			runs[f.Folder] = ri
			continue
		}
		if st, err := db.Load(f.Folder); err == nil {
			ri.ServerMessages = len(st.Pairs)
			ri.CondStore = st.HighestModSeq > 0
		}
		if mf != nil {
			if ents, err := mf.List(); err == nil {
				ri.LocalMessages = len(ents)
			}
		}
		runs[f.Folder] = ri
	}
	return db.PutRunInfo(runs)
}

// inStep returns the number of messages of a folder whose Skip record
// (see sync's skip.go) still matches its Maildir directories: a sync
// left it in step, every message paired on both sides.
func inStep(db *statedb.DB, mf *maildir.Folder, name string) (int, bool) {
	if mf == nil {
		return 0, false
	}
	si, err := db.LoadSkip(name)
	if err != nil || si.Pending || si.Skip.HighestModSeq == 0 || si.Skip.NewMtime == 0 {
		return 0, false
	}
	st := mf.ChangeStamp()
	if !st.Complete() || st.New.UnixNano() != si.Skip.NewMtime || st.Cur.UnixNano() != si.Skip.CurMtime {
		return 0, false
	}
	return int(si.Skip.Messages), true
}

// twoWay reports whether the account's config syncs both ways and
// propagates deletions (the defaults).
func twoWay(a *config.Account) bool {
	return (a.Direction == "" || a.Direction == "both") && (a.Deletions == "" || a.Deletions == "propagate")
}
