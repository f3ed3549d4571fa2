package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	gosync "sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/sync"
	"github.com/mailsync/mailsync/sync/plan"
)

type syncOptions struct {
	allowMassDelete bool
	full            bool
	folders         []string
	watch           bool // --watch: cmd_watch.go
	// direction, deletions and retries override the account's config
	// when set (policy.go); restore and dryRun are --restore and
	// --dry-run.
	direction, deletions string
	retries              int
	retriesSet           bool
	restore, dryRun      bool
}

func syncCommand(g *globals) *cli.Command {
	var o syncOptions
	var folders cli.StringSlice
	return &cli.Command{
		Name:      "sync",
		Usage:     "two-way sync of every folder of the accounts (all when none is named)",
		ArgsUsage: "[ACCOUNT...]",
		Description: "--direction pull never changes the server, push never changes the Maildir; --deletions keep leaves\n" +
			"a message deleted on one side on the other, never copied back (a backup: --direction pull --deletions keep).\n" +
			"--dry-run prints what a sync would do, folder by folder (message by message with -v), and changes nothing.\n" +
			"When the guard holds back a mass deletion, --allow-mass-delete carries it out and --restore copies\n" +
			"the messages back from the other side instead.\n" +
			"Without a terminal (cron, systemd) it prints one line per account that changed or failed and\n" +
			"nothing when nothing changed; -v adds a line per changed folder; --json prints everything as JSON.\n" +
			"Exit status: 0 ok, 1 failure, 2 bad command line or config, 3 partial (some folders failed or\n" +
			"deletions were held back), 130 interrupted.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-mass-delete", Usage: "propagate deletions even when they take more than half of a folder", Destination: &o.allowMassDelete},
			&cli.BoolFlag{Name: "full", Usage: "list every folder in full instead of skipping those unchanged on both sides (finds files rewritten in place at once; otherwise within an hour)", Destination: &o.full},
			&cli.BoolFlag{Name: "watch", Usage: "keep syncing: IDLE, polling and Maildir events trigger passes until SIGINT/SIGTERM (SIGHUP reloads the config)", Destination: &o.watch},
			&cli.StringSliceFlag{Name: "folder", Usage: "sync only this `FOLDER` (repeatable; patterns with * and % as in the config's folders)", Destination: &folders},
			&cli.StringFlag{Name: "direction", Usage: "`DIRECTION`: both, pull (never change the server) or push (never change the Maildir)", DefaultText: "the account's direction, both", Destination: &o.direction},
			&cli.StringFlag{Name: "deletions", Usage: "`DELETIONS`: propagate, or keep (a message deleted on one side stays on the other, never copied back)", DefaultText: "the account's deletions, propagate", Destination: &o.deletions},
			&cli.BoolFlag{Name: "restore", Usage: "copy back what is gone from one side instead of deleting it on the other (the way out of a held-back mass deletion)", Destination: &o.restore},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be done, per folder (per message with -v), and change nothing", Destination: &o.dryRun},
			&cli.IntFlag{Name: "retries", Usage: "try a folder `N` more times after a transient failure (connection reset, timeout, BYE), with backoff (1 s, 2 s, 4 s, … at most 30 s)", DefaultText: "the account's retries, 3", Destination: &o.retries},
		},
		Action: func(c *cli.Context) error {
			o.folders = folders.Value()
			if _, err := folderpat.New(o.folders, nil); err != nil {
				return usagef("sync --folder: %v", strings.TrimPrefix(err.Error(), "folders"))
			}
			o.retriesSet = c.IsSet("retries")
			if err := o.check(); err != nil {
				return err
			}
			accts, err := g.accounts(c.Args().Slice())
			if err != nil {
				return err
			}
			if o.watch {
				return runWatch(c.Context, g, c.Args().Slice(), accts, o)
			}
			return runSync(c.Context, g, accts, o)
		},
	}
}

// engineAccount turns a configured account into the engine's, running
// its password command.
func engineAccount(ctx context.Context, g *globals, a *config.Account) (sync.Account, error) {
	io, err := imapOptions(ctx, g, a)
	if err != nil {
		return sync.Account{}, err
	}
	return sync.Account{
		Name:           a.Name,
		IMAP:           io,
		Maildir:        a.Maildir,
		StatePath:      a.State,
		Folders:        a.Selection(),
		IncludeAllMail: a.IncludeAllMail,
		Connections:    a.Connections,
		Layout:         a.Layout,
	}, nil
}

// folderResult is one folder of one run, as printed by -v and --json.
type folderResult struct {
	Folder         string   `json:"folder"`
	OK             bool     `json:"ok"`
	Downloaded     int      `json:"downloaded"`
	Uploaded       int      `json:"uploaded"`
	BytesDown      int64    `json:"bytes_down"`
	BytesUp        int64    `json:"bytes_up"`
	FlagsToServer  int      `json:"flags_to_server"`
	FlagsToLocal   int      `json:"flags_to_local"`
	DeletedLocal   int      `json:"deleted_local"`
	ExpungedRemote int      `json:"expunged_remote"`
	Paired         int      `json:"paired_by_content"`
	Skipped        int      `json:"skipped"` // messages the server refused
	DurationMS     int64    `json:"duration_ms"`
	Error          string   `json:"error,omitempty"`
	Errors         []string `json:"errors,omitempty"` // deletions held back and the like
	Warnings       []string `json:"warnings,omitempty"`
}

func newFolderResult(name string, s sync.Summary, elapsed time.Duration, err error) folderResult {
	r := folderResult{Folder: name, OK: err == nil, Downloaded: s.Downloaded, Uploaded: s.Uploaded,
		BytesDown: s.BytesDown, BytesUp: s.BytesUp, FlagsToServer: s.FlagsToServer, FlagsToLocal: s.FlagsToLocal,
		DeletedLocal: s.DeletedLocal, ExpungedRemote: s.ExpungedRemote, Paired: s.Paired, Skipped: s.Skipped,
		DurationMS: elapsed.Milliseconds(), Errors: s.Errors, Warnings: s.Warnings}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func (r folderResult) changed() bool {
	return r.Downloaded+r.Uploaded+r.FlagsToServer+r.FlagsToLocal+r.DeletedLocal+r.ExpungedRemote+r.Paired > 0
}

// String is the -v line for a folder.
func (r folderResult) String() string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Downloaded, "downloaded")
	add(r.Uploaded, "uploaded")
	add(r.FlagsToServer, "flags→server")
	add(r.FlagsToLocal, "flags→local")
	add(r.DeletedLocal, "deleted locally")
	add(r.ExpungedRemote, "expunged on the server")
	add(r.Paired, "paired by content")
	add(r.Skipped, "skipped")
	if r.Error != "" {
		parts = append(parts, "failed")
	}
	if len(parts) == 0 {
		parts = append(parts, "unchanged")
	}
	return fmt.Sprintf("%s (%.1fs)", strings.Join(parts, ", "), float64(r.DurationMS)/1000)
}

// accountResult is one account's run, as printed by --json.
type accountResult struct {
	*sync.Summary
	// DryRun: the counts are what the run would do; nothing was done.
	DryRun        bool           `json:"dry_run,omitempty"`
	OK            bool           `json:"ok"`
	Partial       bool           `json:"partial"`
	Error         string         `json:"error,omitempty"`
	DurationMS    int64          `json:"duration_ms"`
	FolderResults []folderResult `json:"folder_results"`

	failedFolders, okFolders int
}

// status is the account's exit status: exitOK, exitPartial or exitFailure.
func (r *accountResult) status() int {
	switch {
	case r.Error == "" && len(r.Errors) == 0:
		return exitOK
	case r.okFolders > 0 || (r.Error == "" && r.failedFolders == 0):
		// Some folders failed while others synced, or every folder
		// synced but some changes were held back.
		return exitPartial
	}
	return exitFailure
}

var errInterrupted = errors.New("interrupted; the state is consistent, run again to finish")

func runSync(ctx context.Context, g *globals, accts []*config.Account, o syncOptions) error {
	var results []*accountResult
	code := exitOK
	for _, a := range accts {
		r := &accountResult{Summary: &sync.Summary{Account: a.Name}}
		start := time.Now()
		acct, err := engineAccount(ctx, g, a)
		if len(o.folders) > 0 {
			// --folder replaces the config's selection.
			acct.Folders, _ = folderpat.New(o.folders, nil)
		}
		if err == nil {
			opts := o.engineOptions(a)
			r.DryRun = opts.DryRun
			err = syncAccount(ctx, g, acct, opts, r)
		}
		r.DurationMS = time.Since(start).Milliseconds()
		if err != nil && ctx.Err() != nil {
			// Whatever it was doing when the signal came.
			err = errInterrupted
		}
		if err != nil {
			r.Error = err.Error()
		}
		if o.dryRun {
			// Nothing is written, not even the run's outcome.
		} else if rerr := recordRun(a, r, start, err); rerr != nil {
			r.Warnings = append(r.Warnings, rerr.Error())
		}
		r.OK = r.Error == "" && len(r.Errors) == 0
		st := r.status()
		r.Partial = st == exitPartial
		results = append(results, r)
		if !g.json {
			printAccount(g, r, err)
		}
		if err == errInterrupted {
			code = exitInterrupted
			break
		}
		var ce *config.Error
		switch {
		case errors.As(err, &ce):
			// A password command that failed is the config's problem.
			if code == exitOK || code == exitPartial {
				code = exitUsage
			}
		case st == exitFailure:
			code = exitFailure
		case st == exitPartial && code == exitOK:
			code = exitPartial
		}
	}
	if g.json {
		out := struct {
			OK       bool             `json:"ok"`
			Exit     int              `json:"exit_status"`
			Error    string           `json:"error,omitempty"`
			Accounts []*accountResult `json:"accounts"`
		}{OK: code == exitOK, Exit: code, Accounts: results}
		var reasons []string
		for _, r := range results {
			if r.Error != "" {
				reasons = append(reasons, r.Account+": "+r.Error)
			} else if len(r.Errors) > 0 {
				reasons = append(reasons, fmt.Sprintf("%s: %s", r.Account, strings.Join(r.Errors, "; ")))
			}
		}
		out.Error = strings.Join(reasons, "; ")
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if code != exitOK {
		// Every error has been printed once already.
		return exitStatus(code)
	}
	return nil
}

// printAccount prints an account's result for people and cron: the
// summary line on stdout when something changed or failed (or always on
// a terminal and with -v), and each error once on stderr.
func printAccount(g *globals, r *accountResult, err error) {
	if err != nil && r.failedFolders == 0 && len(r.Errors) == 0 {
		// The account failed as a whole (login, state file, …).
		fmt.Fprintf(g.stderr, "mailsync: %s: %v\n", r.Account, err)
		return
	}
	for _, e := range r.Errors {
		fmt.Fprintf(g.stderr, "mailsync: %s: %s\n", r.Account, e)
	}
	if err == errInterrupted {
		fmt.Fprintf(g.stderr, "mailsync: %s: %v\n", r.Account, err)
	}
	if g.quiet {
		return
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(g.stderr, "mailsync: %s: warning: %s\n", r.Account, w)
	}
	if r.DryRun {
		fmt.Fprintf(g.stdout, "%s (dry run: what a sync would do; nothing was changed)\n", r.Summary.String())
		return
	}
	if g.isTerminal || g.verbose || r.Changed() || err != nil || len(r.Errors) > 0 {
		fmt.Fprintln(g.stdout, r.Summary.String())
	}
}

// syncAccount runs one account with the progress bar and, with -v, a
// line per changed folder; it fills r.
func syncAccount(ctx context.Context, g *globals, acct sync.Account, opts sync.Options, r *accountResult) error {
	var bar *progressBar
	if g.isTerminal && !g.quiet && !g.json {
		bar = newProgressBar(g.stderr, acct.Name)
		opts.Progress = bar
	}
	// Errors and warnings reach the user once, from the summary; the
	// engine's log says what it does.
	opts.Logf = func(format string, args ...any) {
		if strings.HasPrefix(format, "error: ") || strings.HasPrefix(format, "warning: ") {
			return
		}
		g.logf(format, args...)
	}
	var mu gosync.Mutex
	planned := map[string]sync.Summary{}
	if opts.DryRun {
		opts.Planned = func(name string, p *plan.Plan) {
			mu.Lock()
			defer mu.Unlock()
			planned[name] = planSummary(p)
			if !g.json {
				if bar != nil {
					bar.Clear()
				}
				printPlan(g.stdout, acct.Name, p, g.verbose)
			}
		}
	}
	opts.FolderDone = func(name string, s sync.Summary, elapsed time.Duration, err error) {
		if opts.DryRun {
			mu.Lock()
			p := planned[name]
			mu.Unlock()
			p.Errors, p.Warnings = s.Errors, s.Warnings
			s = p
		}
		fr := newFolderResult(name, s, elapsed, err)
		mu.Lock()
		defer mu.Unlock()
		r.FolderResults = append(r.FolderResults, fr)
		if err != nil {
			r.failedFolders++
		} else {
			r.okFolders++
		}
		if g.verbose && !g.json && (fr.changed() || err != nil || len(fr.Errors) > 0) {
			if bar != nil {
				bar.Clear()
			}
			if !opts.DryRun {
				fmt.Fprintf(g.stdout, "%s: %s: %s\n", acct.Name, name, fr)
			}
		}
	}
	sum, err := runLockWaiting(ctx, acct, opts)
	if bar != nil {
		bar.Finish()
	}
	if sum != nil {
		r.Summary = sum
	}
	if opts.DryRun {
		for _, p := range planned {
			addCounts(r.Summary, p)
		}
	}
	if err == nil || r.okFolders+r.failedFolders > 0 {
		// The folders were listed: say which patterns found nothing.
		for _, p := range acct.Folders.Unmatched() {
			r.Warnings = append(r.Warnings, fmt.Sprintf("folder pattern %q matches no folder on the server or in the Maildir", p))
		}
	}
	return err
}
