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
		if st, err := db.Load(f.Folder); err == nil {
			ri.ServerMessages = len(st.Pairs)
			ri.CondStore = st.HighestModSeq > 0
		}
		if md != nil {
			if mf, err := md.Folder(f.Folder); err == nil {
				if ents, err := mf.Scan(); err == nil {
					ri.LocalMessages = len(ents)
				}
			}
		}
		runs[f.Folder] = ri
	}
	return db.PutRunInfo(runs)
}
