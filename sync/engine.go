// Package sync is mailsync's engine: it keeps the folders of one IMAP
// account and one Maildir in two-way sync, using the state database as
// the memory of the last run.
//
// The engine is a planner and an executor. BuildPlan is a pure function
// of (stored state, server listing, Maildir listing) and decides every
// change; the executor (this file and folder.go) lists, asks the planner,
// and applies the plan in an order that makes a crash at any moment
// harmless: a message file is durable before the state that names it is
// committed, and an upload intent is committed before the APPEND is sent.
//
// The package imports no CLI code: callers pass an Account and Options
// and get a Summary back. It is imported as sync; it imports the standard
// library's sync as gosync.
package sync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	gosync "sync"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
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
}

// Options are the run's switches.
type Options struct {
	// AllowMassDelete turns off the mass-deletion guard.
	AllowMassDelete bool
	Progress        Progress
	// Logf receives warnings and notes (nil: discarded).
	Logf func(format string, args ...any)
	// Retries is how many times a folder is retried on a new connection
	// after a broken one (default 3).
	Retries int
	// FolderDone, when set, is called once for every folder whose sync
	// was attempted, from that folder's worker goroutine (so possibly
	// from several at once), with what was done to it, how long it took
	// and the error that stopped it (nil when it completed).
	FolderDone func(folder string, sum Summary, elapsed time.Duration, err error)
}

// conn is what the engine needs of an IMAP connection; *imapconn.Conn
// has it.
type conn interface {
	Caps() imapconn.Caps
	ListFolders(ctx context.Context) ([]imapconn.Folder, []string, error)
	CreateFolder(ctx context.Context, name string) error
	Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error)
	ListMessages(ctx context.Context, changedSince uint64) ([]model.RemoteMsg, error)
	UIDs(ctx context.Context) ([]model.UID, error)
	Fingerprints(ctx context.Context, uids []model.UID) (map[model.UID]string, error)
	FetchBodies(ctx context.Context, uids []model.UID, fn func(imapconn.Message) error) error
	AppendBatch(ctx context.Context, folder string, reqs []imapconn.AppendReq, done func(i int, res imapconn.AppendResult) error) error
	StoreFlags(ctx context.Context, uids []model.UID, add bool, flags model.Flags) error
	Expunge(ctx context.Context, uids []model.UID) error
	Close() error
}

// ErrMaildirMissing means the Maildir root is gone while the state
// remembers messages: probably an unmounted disk.
var ErrMaildirMissing = errors.New("Maildir is missing")

// engine is one account's run.
type engine struct {
	acct Account
	opts Options
	db   *statedb.DB
	md   *maildir.Maildir
	dial func(ctx context.Context) (conn, error)

	mu  gosync.Mutex
	sum Summary
}

func (e *engine) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

func (e *engine) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.mu.Lock()
	e.sum.Warnings = append(e.sum.Warnings, msg)
	e.mu.Unlock()
	e.logf("warning: %s", msg)
}

// Run syncs one account. It returns the summary of what was done and an
// error when the account could not be synced or any folder failed (the
// other folders are still synced; the summary lists every failure).
func Run(ctx context.Context, acct Account, opts Options) (*Summary, error) {
	return run(ctx, acct, opts, func(ctx context.Context) (conn, error) {
		return imapconn.Dial(ctx, acct.IMAP)
	})
}

func run(ctx context.Context, acct Account, opts Options, dial func(context.Context) (conn, error)) (*Summary, error) {
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	if opts.Retries <= 0 {
		opts.Retries = 3
	}
	if acct.Connections <= 0 {
		acct.Connections = 3
	}
	e := &engine{acct: acct, opts: opts, dial: dial}
	e.sum.Account = acct.Name

	// Log in first: a wrong password or an unreachable server must not
	// leave a new, empty Maildir or state file behind.
	c, err := dial(ctx)
	if err != nil {
		return &e.sum, err
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()

	db, err := statedb.Open(acct.StatePath)
	if err != nil {
		return &e.sum, err
	}
	defer db.Close()
	e.db = db

	md, err := maildir.Open(acct.Maildir)
	if err != nil {
		return &e.sum, err
	}
	e.md = md
	stateFolders, err := db.Folders()
	if err != nil {
		return &e.sum, err
	}
	if !md.Exists() {
		if n := e.rememberedMessages(stateFolders); n > 0 {
			return &e.sum, fmt.Errorf("%w: %s does not exist, but %s remembers %d synced messages; is the disk unmounted? Nothing was changed. Restore the Maildir, or delete the state file to start over", ErrMaildirMissing, acct.Maildir, acct.StatePath, n)
		}
		// A new Maildir: its root is the INBOX.
		if _, err := md.CreateFolder(model.Inbox); err != nil {
			return &e.sum, err
		}
	}

	folders, err := e.prepareFolders(ctx, c, stateFolders)
	if err != nil {
		return &e.sum, err
	}
	e.sum.Folders = len(folders)

	// Workers: one connection each; the first reuses c.
	work := make(chan string)
	var wg gosync.WaitGroup
	n := min(acct.Connections, len(folders))
	for i := 0; i < n; i++ {
		var wc conn
		if i == 0 {
			wc, c = c, nil
		}
		wg.Add(1)
		go func(wc conn) {
			defer wg.Done()
			defer func() {
				if wc != nil {
					wc.Close()
				}
			}()
			for name := range work {
				wc = e.syncFolderRetrying(ctx, wc, name)
			}
		}(wc)
	}
	for _, name := range folders {
		select {
		case work <- name:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return &e.sum, fmt.Errorf("interrupted: %w (the state is consistent; run again to finish)", err)
	}
	if len(e.sum.Errors) > 0 {
		return &e.sum, fmt.Errorf("%d of %d folders failed", len(e.sum.Errors), len(folders))
	}
	return &e.sum, nil
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

func (e *engine) excluded(name string) bool {
	if e.acct.Folders == nil {
		s, err := folderpat.New(nil, e.acct.Exclude)
		if err != nil {
			return true // checked by the config: not reached
		}
		e.acct.Folders = s
	}
	return !e.acct.Folders.Match(name)
}

// prepareFolders decides which folders to sync, creating on each side the
// folders that are new on the other. A folder that was synced before and
// is now gone from one side is not deleted on the other: it is skipped
// with a warning.
func (e *engine) prepareFolders(ctx context.Context, c conn, stateFolders []string) ([]string, error) {
	remoteList, skipped, err := c.ListFolders(ctx)
	if err != nil {
		return nil, fmt.Errorf("list folders on the server: %w", err)
	}
	for _, s := range skipped {
		e.warn("server folder skipped: %s", s)
	}
	remote := map[string]bool{}
	unselectable := map[string]bool{}
	for _, f := range remoteList {
		if e.excluded(f.Name) {
			continue
		}
		if f.NoSelect {
			unselectable[f.Name] = true
			continue
		}
		if f.SpecialUse == `\All` && !e.acct.IncludeAllMail {
			e.logf("skipping %q: it is the server's \\All folder (set include_all_mail to sync it)", f.Name)
			continue
		}
		remote[f.Name] = true
	}
	localList, err := e.md.Folders()
	if err != nil {
		return nil, fmt.Errorf("list Maildir folders: %w", err)
	}
	local := map[string]bool{}
	for _, name := range localList {
		if !e.excluded(name) {
			local[name] = true
		}
	}
	known := map[string]bool{}
	for _, name := range stateFolders {
		known[name] = true
	}
	all := map[string]bool{model.Inbox: true}
	for _, m := range []map[string]bool{remote, local, known} {
		for name := range m {
			all[name] = true
		}
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)

	var out []string
	for _, name := range names {
		r, l, k := remote[name], local[name], known[name]
		if e.excluded(name) {
			continue
		}
		switch {
		case r && l:
			out = append(out, name)
		case r && !l:
			if k {
				e.warn("folder %q: its Maildir directory %s is gone; nothing is deleted on the server. Restore the directory, or delete the folder on the server too", name, e.folderPath(name))
				continue
			}
			if _, err := e.md.CreateFolder(name); err != nil {
				e.folderError(name, fmt.Errorf("create Maildir folder: %w", err))
				continue
			}
			out = append(out, name)
		case !r && l:
			if k {
				e.warn("folder %q: it is gone from the server; the local copy in %s is kept", name, e.folderPath(name))
				continue
			}
			if unselectable[name] {
				e.warn("folder %q exists on the server but cannot hold messages (\\Noselect); local messages in it are not synced", name)
				continue
			}
			if err := c.CreateFolder(ctx, name); err != nil {
				e.folderError(name, fmt.Errorf("create on the server: %w", err))
				continue
			}
			e.logf("created folder %q on the server", name)
			out = append(out, name)
		case k:
			// Gone on both sides: forget it.
			if err := e.db.Update(func(tx *statedb.Tx) error { return tx.DeleteFolder(name) }); err != nil {
				return nil, err
			}
		case name == model.Inbox:
			// Neither side has an INBOX yet (an empty account and a new
			// Maildir): the Maildir's root is its INBOX.
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
	e.mu.Unlock()
	e.logf("error: folder %q: %v", name, err)
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
	for attempt := 0; attempt <= e.opts.Retries; attempt++ {
		if ctx.Err() != nil {
			return c
		}
		if c == nil {
			c, err = e.dial(ctx)
			if err != nil {
				if imapconn.IsRetryable(err) && attempt < e.opts.Retries {
					sleep(ctx, time.Duration(attempt+1)*time.Second)
					continue
				}
				break
			}
		}
		var sum Summary
		err = e.syncFolder(ctx, c, name, &sum)
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
		e.logf("folder %q: connection lost (%v); reconnecting", name, err)
		c.Close()
		c = nil
		sleep(ctx, time.Duration(attempt)*time.Second)
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
