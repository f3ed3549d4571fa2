// Package sync is mailsync's engine: it keeps the folders of one IMAP
// account and one Maildir in two-way sync, using the state database as
// the memory of the last run.
//
// The engine is a planner and an executor: listings → decisions → plan →
// executor. The executor (this file and folder.go) lists the server, the
// Maildir and the state through three ports (ports.go: Remote, Local,
// State); package sync/plan holds every decision as pure functions of
// those listings; the executor applies the plan in an order that makes a
// crash at any moment harmless: a message file is durable before the
// state that names it is committed, and an upload intent is committed
// before the APPEND is sent.
//
// The engine is silent unless Options.Logf is set (see there for the
// convention).
//
// The package imports no CLI code: callers pass an Account and Options
// and get a Summary back. It is imported as sync; it imports the standard
// library's sync as gosync.
package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync/plan"
)

// Account is one account to sync.
type Account struct {
	Name      string
	IMAP      imapconn.Options
	Maildir   string // root of the Maildir++ tree
	StatePath string // bbolt file
	// Exclude lists folders that are not synced, with their subfolders
	// (patterns: * any, % any but "/"; see internal/folderpat). Folders,
	// when set, is the whole selection and Exclude is not used.
	Exclude []string
	Folders *folderpat.Set
	// IncludeAllMail syncs folders marked \All (Gmail's "All Mail"),
	// which hold a second copy of every message; off by default.
	IncludeAllMail bool
	// Connections is how many folders are synced at once, each on its
	// own IMAP connection (default 3).
	Connections int

	// Layout is the Maildir's layout (maildir.LayoutFS: nested folders,
	// as mbsync and OfflineIMAP write them); "" is Maildir++, refusing a
	// tree of nested folders (maildir.OpenLayout).
	Layout maildir.Layout
}

// Options are the run's switches.
type Options struct {
	// AllowMassDelete turns off the mass-deletion guard.
	AllowMassDelete bool
	// Full lists every folder in full: no folder is skipped as
	// unchanged (skip.go). A file rewritten in place without a rename
	// is otherwise seen when its folder is next listed: when something
	// else changes in it, or FullListingAge after its last listing.
	Full     bool
	Progress Progress
	// Logf receives the run's log, one line per call (nil: the engine is
	// silent; it never writes to stdout or stderr itself). A line is a
	// note (no prefix: something done or skipped by design), a warning
	// ("warning: ", also in Summary.Warnings) or an error ("error: ", a
	// folder not or not fully synced, also in Summary.Errors). Logf is
	// called from the folder workers' goroutines: it must be safe for
	// concurrent use.
	Logf func(format string, args ...any)
	// Retries is how many times a folder is retried on a new connection
	// after a broken one (0: the default, 3; negative: none), with
	// backoff between attempts (retry.go); the run's first connection is
	// retried likewise.
	Retries int
	// Policy is the direction, the deletion policy and --restore
	// (plan.ApplyPolicy). Under plan.Pull no folder is created on the
	// server; under plan.Push none in the Maildir.
	Policy plan.Policy
	// DryRun plans every folder without changing anything: not the
	// server (folders are opened read-only), not the Maildir, not the
	// state file (the run works on a copy). Planned receives the plans.
	DryRun bool
	// Planned, when set, is called with each folder's plan in a dry run,
	// from that folder's worker goroutine.
	Planned func(folder string, p *plan.Plan)
	// FolderDone, when set, is called once for every folder whose sync
	// was attempted, from that folder's worker goroutine (so possibly
	// from several at once), with what was done to it, how long it took
	// and the error that stopped it (nil when it completed).
	FolderDone func(folder string, sum Summary, elapsed time.Duration, err error)
}

// ErrMaildirMissing means the Maildir root is gone while the state
// remembers messages: probably an unmounted disk.
var ErrMaildirMissing = errors.New("Maildir is missing")

// engine is one account's run.
type engine struct {
	acct Account
	opts Options
	db   State
	md   Local
	dial func(ctx context.Context) (Remote, error)
	// started is when the run began: a message staged in tmp/ before it
	// is a killed run's (CleanStaged).
	started time.Time

	mu     gosync.Mutex
	sum    Summary
	failed int // folders that failed (folderError)
	// dryNewOnServer: in a dry run, the folders that would be created on
	// the server (nothing to select there).
	dryNewOnServer map[string]bool
	// settling counts the Skip records being settled in the background
	// (recordSkip): the run waits for them before it ends.
	settling gosync.WaitGroup
	// planning is held by the quick pass that is reading a folder's
	// pairs and files and planning them (quickPass): one folder's
	// summaries and listing in memory at a time, whatever the number of
	// connections. The rest of a pass (the server's answers, the
	// transfers) runs beside it.
	planning chan struct{}
	// tab is the table of pair summaries of the quick pass holding
	// planning, kept from folder to folder.
	tab pairTable
}

// note logs something done or skipped by design (see Options.Logf).
func (e *engine) note(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// warn logs a warning and keeps it in the summary.
func (e *engine) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.mu.Lock()
	e.sum.Warnings = append(e.sum.Warnings, msg)
	e.mu.Unlock()
	e.note("warning: %s", msg)
}

// Run syncs one account. It returns the summary of what was done and an
// error when the account could not be synced or any folder failed (the
// other folders are still synced; the summary lists every failure).
func Run(ctx context.Context, acct Account, opts Options) (*Summary, error) {
	return run(ctx, acct, opts, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, acct.IMAP)
		if err != nil {
			return nil, err // not a nil *Conn in a non-nil conn
		}
		return c, nil
	})
}

func run(ctx context.Context, acct Account, opts Options, dial func(context.Context) (conn, error)) (*Summary, error) {
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	if opts.Retries == 0 {
		opts.Retries = 3
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if acct.Connections <= 0 {
		acct.Connections = 3
	}
	e := &engine{acct: acct, opts: opts, dial: dial, started: time.Now(), dryNewOnServer: map[string]bool{}, planning: make(chan struct{}, 1)}
	e.sum.Account = acct.Name

	// Log in first: a wrong password or an unreachable server must not
	// leave a new, empty Maildir or state file behind.
	c, err := dialRetrying(ctx, dial, opts.Retries)
	if err != nil {
		return &e.sum, err
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()

	statePath := acct.StatePath
	if opts.DryRun {
		// A dry run works on a copy of the state: the real file is not
		// even opened for writing.
		var cleanup func()
		if statePath, cleanup, err = dryRunState(acct.StatePath); err != nil {
			return &e.sum, err
		}
		defer cleanup()
	}
	db, err := statedb.Open(statePath)
	if err != nil {
		return &e.sum, err
	}
	defer db.Close()
	if err := checkOwner(db, acct); err != nil {
		return &e.sum, err
	}
	e.db = db

	md, err := maildir.OpenLayout(acct.Maildir, acct.Layout)
	if err != nil {
		return &e.sum, err
	}
	e.md = maildirTree{md}
	stateFolders, err := db.Folders()
	if err != nil {
		return &e.sum, err
	}
	if !md.Exists() {
		if n := e.rememberedMessages(stateFolders); n > 0 {
			return &e.sum, fmt.Errorf("%w: %s does not exist, but %s remembers %d synced messages; is the disk unmounted? Nothing was changed. Restore the Maildir, or delete the state file to start over", ErrMaildirMissing, acct.Maildir, acct.StatePath, n)
		}
		// A new Maildir: its root is the INBOX.
		if e.mayCreateLocal() {
			if _, err := md.CreateFolder(model.Inbox); err != nil {
				return &e.sum, err
			}
		}
	}

	folders, err := e.prepareFolders(ctx, c, stateFolders)
	if err != nil {
		return &e.sum, err
	}
	e.sum.Folders = len(folders)

	// Workers: one connection each; the first reuses c. The others dial
	// when there is a folder for them (a run with nothing to do opens no
	// other connection), holding it meanwhile; a connected worker short
	// of work takes a held folder, and the largest folders go first
	// (folderQueue). A worker whose connection cannot be opened (many
	// servers limit connections per user) gives its folder back and
	// stops: the others sync it.
	q := newFolderQueue(ctx)
	var wg gosync.WaitGroup
	n := min(acct.Connections, len(folders))
	var (
		refusedMu  gosync.Mutex
		dialed     = 1
		refused    int
		refusedErr error
	)
	work := func(wc conn) {
		defer func() {
			if wc != nil {
				wc.Close()
			}
		}()
		for {
			name, ok := q.take(false)
			if !ok {
				return
			}
			wc = e.syncFolderRetrying(ctx, wc, name)
		}
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, ok := q.take(true)
			if !ok {
				return
			}
			wc, err := e.dial(ctx)
			refusedMu.Lock()
			dialed++
			if err != nil {
				refused++
				refusedErr = err
			}
			refusedMu.Unlock()
			if err != nil {
				q.release(name)
				return
			}
			q.release(name)
			work(wc)
		}()
	}
	// Folders unchanged on both sides since a run left them in step
	// need nothing (skip.go); the others go to the workers as soon as
	// they are known, while the first connection asks the STATUS of the
	// rest. Then the first connection works too.
	e.skipUnchanged(ctx, c, folders, q.put)
	q.close()
	if n > 0 {
		wc := c
		c = nil
		work(wc)
	}
	wg.Wait()
	e.settling.Wait()
	synced := q.total()
	if refused > 0 && ctx.Err() == nil {
		e.warn("only %d of %d connections could be opened (%v); the folders were synced over %d. Lower connections in the account's config to avoid this", dialed-refused, dialed, refusedErr, dialed-refused)
	}

	if err := ctx.Err(); err != nil {
		return &e.sum, fmt.Errorf("interrupted: %w (the state is consistent; run again to finish)", err)
	}
	if e.failed > 0 {
		return &e.sum, fmt.Errorf("%d of %d folders failed", e.failed, synced)
	}
	if len(e.sum.Errors) > 0 {
		// Every folder synced, but messages were skipped or deletions
		// held back.
		return &e.sum, fmt.Errorf("not everything was synced: %s", strings.Join(e.sum.Errors, "; "))
	}
	return &e.sum, nil
}

// ErrStateMismatch means the state file belongs to another Maildir,
// server or account.
var ErrStateMismatch = errors.New("the state file belongs to another account, server or Maildir")

// checkOwner refuses a state file recorded for another account, server
// login or Maildir: with it every message would look deleted on one side.
// A state without an owner (new, or from an older mailsync) is claimed.
func checkOwner(db *statedb.DB, acct Account) error {
	md := acct.Maildir
	if abs, err := filepath.Abs(md); err == nil {
		md = abs
	}
	want := statedb.Owner{Account: acct.Name, Host: strings.ToLower(acct.IMAP.Host), User: acct.IMAP.User, Maildir: md}
	got, err := db.ClaimOwner(want)
	if err != nil {
		return err
	}
	if got == want {
		return nil
	}
	desc := func(o statedb.Owner) string {
		return fmt.Sprintf("account %q, %s@%s, Maildir %s", o.Account, o.User, o.Host, o.Maildir)
	}
	return fmt.Errorf("%w: state %s was written for %s, not for %s; nothing was changed. Give this account its own state file (the account's state setting), or, if the Maildir or server really moved, delete %s to start over (messages are paired again by content, nothing is copied twice)",
		ErrStateMismatch, db.Path(), desc(got), desc(want), db.Path())
}

func (e *engine) rememberedMessages(folders []string) int {
	n := 0
	for _, name := range folders {
		if st, err := e.db.Load(name); err == nil {
			n += len(st.Pairs)
		}
	}
	return n
}

// selection is the account's folder selection: Folders, or else Exclude.
func (a *Account) selection() *folderpat.Set {
	if a.Folders == nil && len(a.Exclude) > 0 {
		if s, err := folderpat.New(nil, a.Exclude); err == nil { // the config checked the patterns
			a.Folders = s
		}
	}
	return a.Folders
}

// prepareFolders lists the folders of both sides, asks plan.Folders what
// to do with each, and does it: it creates on each side the folders that
// are new on the other, forgets those gone from both, and warns about
// the ones it skips. It returns the folders to sync.
func (e *engine) prepareFolders(ctx context.Context, c conn, stateFolders []string) ([]string, error) {
	remoteList, skipped, err := c.ListFolders(ctx)
	if err != nil {
		return nil, fmt.Errorf("list folders on the server: %w", err)
	}
	for _, s := range skipped {
		e.warn("server folder skipped: %s", s)
	}
	localList, err := e.md.Folders()
	if errors.Is(err, os.ErrNotExist) && !e.mayCreateLocal() {
		localList, err = nil, nil // a dry run or a push into no Maildir
	}
	if err != nil {
		return nil, fmt.Errorf("list Maildir folders: %w", err)
	}
	delim := ""
	if d, ok := c.(interface{ Delimiter() string }); ok {
		delim = d.Delimiter() // known after ListFolders
	}
	decisions, allMail := plan.Folders(plan.FolderInput{Remote: remoteList, Local: localList, Known: stateFolders,
		Selection: e.acct.selection(), IncludeAllMail: e.acct.IncludeAllMail, Delimiter: delim})
	for _, name := range allMail {
		e.note("skipping %q: it is the server's \\All folder (set include_all_mail to sync it)", name)
	}
	var out []string
	for _, d := range decisions {
		name := d.Name
		switch d.Action {
		case plan.Sync:
			out = append(out, name)
		case plan.SkipLocalGone:
			e.warn("folder %q: its Maildir directory %s is gone; nothing is deleted on the server. Restore the directory, or delete the folder on the server too", name, e.folderPath(name))
		case plan.CreateLocal:
			if !e.mayCreateLocal() {
				if e.opts.DryRun && e.opts.Policy.CanChangeLocal() {
					e.note("dry run: would create Maildir folder %q", name)
					out = append(out, name)
				} else if !e.opts.Policy.CanChangeLocal() {
					e.note("folder %q is on the server only; not created in the Maildir (direction push)", name)
				}
				continue
			}
			if _, err := e.md.CreateFolder(name); err != nil {
				if errors.Is(err, maildir.ErrNotStorable) {
					e.warn("folder %q is not synced: %v", name, err)
					continue
				}
				e.folderError(name, fmt.Errorf("create Maildir folder: %w", err))
				continue
			}
			out = append(out, name)
		case plan.SkipRemoteGone:
			e.warn("folder %q: it is gone from the server; the local copy in %s is kept", name, e.folderPath(name))
		case plan.SkipUnrepresentable:
			e.warn("folder %q (%s) is not synced: the server's hierarchy delimiter is %q, so the server would split its name into levels. Rename the Maildir folder without %q to sync it", name, e.folderPath(name), delim, delim)
		case plan.SkipCaseClash:
			e.warn("folder %q (%s) is not synced: %s. Only INBOX is case-insensitive, but the server may merge such names; rename the Maildir folder to sync it", name, e.folderPath(name), caseClashReason(name, remoteList, localList))
		case plan.SkipNoSelect:
			e.warn("folder %q exists on the server but cannot hold messages (\\Noselect); local messages in it are not synced", name)
		case plan.CreateRemote:
			if !e.mayCreateRemote() {
				if e.opts.DryRun && e.opts.Policy.CanChangeServer() {
					e.note("dry run: would create folder %q on the server", name)
					e.dryNewOnServer[name] = true
					out = append(out, name)
				} else if !e.opts.Policy.CanChangeServer() {
					e.note("folder %q is in the Maildir only; not created on the server (direction pull)", name)
				}
				continue
			}
			if err := c.CreateFolder(ctx, name); err != nil {
				e.folderError(name, fmt.Errorf("create on the server: %w", err))
				continue
			}
			e.note("created folder %q on the server", name)
			out = append(out, name)
		case plan.Forget:
			if err := e.db.Forget(name); err != nil {
				return nil, err
			}
		case plan.CreateInbox:
			if !e.mayCreateLocal() {
				continue
			}
			if _, err := e.md.CreateFolder(name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (e *engine) folderPath(name string) string {
	if f, err := e.md.Folder(name); err == nil {
		return f.Path()
	}
	return name
}

func (e *engine) folderError(name string, err error) {
	e.mu.Lock()
	e.sum.Errors = append(e.sum.Errors, fmt.Sprintf("folder %q: %v", name, err))
	e.failed++
	e.mu.Unlock()
	e.note("error: folder %q: %v", name, err)
}

// syncFolderRetrying syncs one folder, reconnecting and starting the
// folder over after a broken connection. It returns the connection to use
// for the next folder (nil when none could be made).
func (e *engine) syncFolderRetrying(ctx context.Context, c conn, name string) conn {
	var err error
	var fsum Summary
	if e.opts.FolderDone != nil {
		start := time.Now()
		defer func() { e.opts.FolderDone(name, fsum, time.Since(start), err) }()
	}
	refused := map[string]string{}
	for attempt := 0; attempt <= e.opts.Retries; attempt++ {
		if ctx.Err() != nil {
			return c
		}
		if c == nil {
			c, err = e.dial(ctx)
			if err != nil {
				if imapconn.IsRetryable(err) && attempt < e.opts.Retries {
					sleep(ctx, retryDelay(attempt))
					continue
				}
				break
			}
		}
		var sum Summary
		err = e.syncFolder(ctx, c, name, &sum, refused)
		e.mu.Lock()
		e.sum.add(&sum)
		e.mu.Unlock()
		fsum.add(&sum)
		if err == nil {
			return c
		}
		if !imapconn.IsRetryable(err) || ctx.Err() != nil {
			break
		}
		e.note("folder %q: connection lost (%v); reconnecting", name, err)
		c.Close()
		c = nil
		sleep(ctx, reconnectDelay(attempt))
	}
	if ctx.Err() == nil {
		e.folderError(name, err)
	} else if err == nil {
		err = ctx.Err()
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// caseClashReason says why plan.SkipCaseClash refused name: the names it
// differs from only in letter case.
func caseClashReason(name string, remote []model.RemoteFolder, local []string) string {
	var others []string
	seen := map[string]bool{name: true}
	add := func(n string) {
		if !seen[n] && strings.EqualFold(n, name) {
			seen[n] = true
			others = append(others, fmt.Sprintf("%q", n))
		}
	}
	for _, f := range remote {
		add(f.Name)
	}
	for _, n := range local {
		add(n)
	}
	if len(others) == 0 {
		return "its first level is a spelling of INBOX other than \"INBOX\""
	}
	return "its name differs only in letter case from " + strings.Join(others, ", ")
}
