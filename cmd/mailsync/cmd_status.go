package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/statedb"
)

// folderStatus is one folder in `mailsync status`.
type folderStatus struct {
	Folder         string    `json:"folder"`
	UIDValidity    uint32    `json:"uidvalidity"`
	UIDNext        uint32    `json:"uidnext"`
	Messages       int       `json:"messages"` // paired in the state
	Pending        int       `json:"pending_uploads"`
	CondStore      bool      `json:"condstore"`
	ServerMessages *int      `json:"server_messages,omitempty"` // at the last sync
	LocalMessages  *int      `json:"local_messages,omitempty"`
	LastSync       time.Time `json:"last_sync,omitzero"`
	LastOK         *bool     `json:"last_ok,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
}

type accountStatus struct {
	Account string         `json:"account"`
	State   string         `json:"state"`
	Synced  bool           `json:"synced"`
	LastRun time.Time      `json:"last_run,omitzero"`
	LastOK  *bool          `json:"last_ok,omitempty"`
	LastErr string         `json:"last_error,omitempty"`
	Folders []folderStatus `json:"folders"`
}

func statusCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show what the state remembers of each account: per folder the messages on each side, the last sync and its error (no network)",
		ArgsUsage: "[ACCOUNT...]",
		Action: func(c *cli.Context) error {
			accts, err := g.accounts(c.Args().Slice())
			if err != nil {
				return err
			}
			var out []accountStatus
			for _, a := range accts {
				st, err := accountStatusOf(a)
				if err != nil {
					return err
				}
				out = append(out, st)
				if !g.json {
					printStatus(g, a, st)
				}
			}
			if g.json {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return nil
		},
	}
}

func accountStatusOf(a *config.Account) (accountStatus, error) {
	as := accountStatus{Account: a.Name, State: a.State, Folders: []folderStatus{}}
	if _, err := os.Stat(a.State); errors.Is(err, os.ErrNotExist) {
		return as, nil
	}
	as.Synced = true
	db, err := statedb.Open(a.State)
	if err != nil {
		return as, err
	}
	defer db.Close()
	runs, err := db.Runs()
	if err != nil {
		return as, err
	}
	if ri, ok := runs[statedb.AccountRun]; ok {
		as.LastRun, as.LastOK, as.LastErr = ri.Time, &ri.OK, ri.Error
		delete(runs, statedb.AccountRun)
	}
	names, err := db.Folders()
	if err != nil {
		return as, err
	}
	// A folder that failed before its first sync has a run record only.
	for n := range runs {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		st, err := db.Load(n)
		if err != nil {
			return as, err
		}
		fs := folderStatus{Folder: n, UIDValidity: st.UIDValidity, UIDNext: uint32(st.UIDNext), Messages: len(st.Pairs),
			Pending: len(st.Intents), CondStore: st.HighestModSeq > 0}
		if ri, ok := runs[n]; ok {
			fs.ServerMessages, fs.LocalMessages = &ri.ServerMessages, &ri.LocalMessages
			fs.LastSync, fs.LastOK, fs.LastError = ri.Time, &ri.OK, ri.Error
		}
		as.Folders = append(as.Folders, fs)
	}
	return as, nil
}

func printStatus(g *globals, a *config.Account, as accountStatus) {
	if !as.Synced {
		fmt.Fprintf(g.stdout, "%s: never synced (no state at %s)\n", a.Name, a.State)
		return
	}
	fmt.Fprintf(g.stdout, "%s (%s ↔ %s@%s, state %s)\n", a.Name, a.Maildir, a.User, a.Host, a.State)
	if as.LastOK != nil {
		result := "ok"
		if !*as.LastOK {
			result = "failed: " + as.LastErr
		}
		fmt.Fprintf(g.stdout, "  last sync %s: %s\n", as.LastRun.Local().Format("2006-01-02 15:04:05"), result)
	}
	for _, f := range as.Folders {
		cs := "no CONDSTORE"
		if f.CondStore {
			cs = "CONDSTORE"
		}
		fmt.Fprintf(g.stdout, "  %-24s", f.Folder)
		if f.ServerMessages != nil {
			fmt.Fprintf(g.stdout, " server %d, Maildir %d", *f.ServerMessages, *f.LocalMessages)
		} else {
			fmt.Fprintf(g.stdout, " %d messages", f.Messages)
		}
		fmt.Fprintf(g.stdout, "  %s  uidvalidity %d", cs, f.UIDValidity)
		if f.Pending > 0 {
			fmt.Fprintf(g.stdout, "  %d uploads pending", f.Pending)
		}
		if f.LastOK != nil {
			fmt.Fprintf(g.stdout, "  synced %s", f.LastSync.Local().Format("2006-01-02 15:04"))
			if *f.LastOK {
				fmt.Fprint(g.stdout, " ok")
			} else {
				fmt.Fprintf(g.stdout, " FAILED: %s", f.LastError)
			}
		}
		fmt.Fprintln(g.stdout)
	}
}
