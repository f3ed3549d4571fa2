// Package watch keeps one account in sync continuously: a full pass at
// start and every FullInterval, and between them targeted passes of the
// folders that changed on either side.
//
// Changes are noticed three ways: IDLE on INBOX and the IdleFolders
// (one IMAP connection each, at most MaxIdle), STATUS polling of every
// other selected folder every PollInterval (UIDVALIDITY, UIDNEXT,
// MESSAGES and, with CONDSTORE, HIGHESTMODSEQ), and inotify (fsnotify)
// on the cur/ and new/ directories of every local folder. Each marks its
// folder dirty; bursts are coalesced (a quiet window of Debounce, at most
// MaxDelay after the first change) into one pass of the dirty folders.
//
// Passes run one at a time, from Run's goroutine, through sync.Run: the
// engine's crash safety and the state file's lock are unchanged, and the
// lock is held only while a pass runs, so a one-shot `mailsync sync` of
// the same account can run between passes. A failing pass is retried
// with exponential backoff (1 s to 60 s) and never ends the watcher;
// lost IDLE and polling connections are redialed the same way. Only
// refused credentials, a missing Maildir or the end of ctx end Run.
//
// A laptop that sleeps keeps its TCP connections open on its side while
// the network under them goes away: IDLE would wait, silently, until the
// 25-minute restart, and Go's timers (monotonic, stopped during suspend)
// would not even notice the lost time. So the watcher compares the wall
// clock with the monotonic clock every WakeCheck; when the wall clock
// has moved further (the machine slept, or its clock was set), every
// connection is dropped and redialed at once and a full pass runs, as at
// start. Connections that die without a sleep are found by TCP
// keepalive (about two and a half minutes) and by the next IDLE restart.
//
// The watcher's own writes (a pass's downloads, uploads and flag
// changes) are noticed like anyone else's: each pass that changed
// something is followed by one more pass of the same folders that finds
// nothing to do.
package watch

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync"
)

// Options configure Run. Zero durations take the defaults noted.
type Options struct {
	Account sync.Account
	// Sync is passed to every pass (Logf, FolderDone, ...).
	Sync sync.Options
	// IdleFolders are watched with IDLE besides INBOX.
	IdleFolders []string
	// MaxIdle caps the IDLE connections (default 5); folders beyond it
	// are polled.
	MaxIdle int
	// PollInterval is how often the other folders are polled with
	// STATUS (default 60 s).
	PollInterval time.Duration
	// FullInterval is how often every folder is synced (default 15 min).
	FullInterval time.Duration
	// Debounce is the quiet window that ends a burst of changes (default
	// 200 ms); MaxDelay bounds the wait from the first change (1 s).
	Debounce, MaxDelay time.Duration
	// IdleRestart is how often IDLE is ended and restarted (25 min).
	IdleRestart time.Duration
	// WakeCheck is how often the clocks are compared to notice that the
	// machine slept (default 2 s); a wall clock ahead of the monotonic
	// clock by more than WakeJump (default 5 s) is a wake-up.
	WakeCheck, WakeJump time.Duration
	// Logf receives the watcher's notes ("warning: " and "error: "
	// prefixes as in sync.Options.Logf); nil: silent. Called from
	// several goroutines.
	Logf func(format string, args ...any)
	// PassDone, when set, is called from Run's goroutine after every
	// pass: the folders it targeted (nil for a full pass), its summary
	// and its error.
	PassDone func(folders []string, sum *sync.Summary, err error)
}

func (o *Options) defaults() {
	if o.MaxIdle <= 0 {
		o.MaxIdle = 5
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 60 * time.Second
	}
	if o.FullInterval <= 0 {
		o.FullInterval = 15 * time.Minute
	}
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Second
	}
	if o.IdleRestart <= 0 {
		o.IdleRestart = 25 * time.Minute
	}
	if o.WakeCheck <= 0 {
		o.WakeCheck = 2 * time.Second
	}
	if o.WakeJump <= 0 {
		o.WakeJump = 5 * time.Second
	}
}

// Backoff bounds for reconnecting and retrying passes.
const (
	minBackoff = time.Second
	maxBackoff = 60 * time.Second
)

// watcher is one Run.
type watcher struct {
	o    Options
	sel  *folderpat.Set // the account's selection (safe for concurrent use)
	kick chan struct{}  // a folder became dirty (buffered, 1)

	mu     gosync.Mutex
	dirty  map[string]bool
	full   bool
	idling map[string]bool // folders watched with IDLE, not polled
	// conns is the context of the current generation of connections
	// (IDLE, polling and the running pass); a wake-up cancels it and
	// starts the next.
	conns     context.Context
	dropConns context.CancelFunc
}

// connContext returns the context the connections made now live in.
func (w *watcher) connContext() context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns
}

// newConns ends the current generation of connections and starts the
// next one, a child of ctx.
func (w *watcher) newConns(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dropConns != nil {
		w.dropConns()
	}
	w.conns, w.dropConns = context.WithCancel(ctx)
}

func (w *watcher) isIdling(folder string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idling[folder]
}

func (w *watcher) logf(format string, args ...any) {
	if w.o.Logf != nil {
		w.o.Logf(format, args...)
	}
}

// mark records that folder changed ("" asks for a full pass).
func (w *watcher) mark(folder string) {
	w.mu.Lock()
	if folder == "" {
		w.full = true
	} else {
		w.dirty[folder] = true
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// take returns and clears the dirty set.
func (w *watcher) take() (folders []string, full bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.dirty {
		folders = append(folders, f)
	}
	sort.Strings(folders)
	full = w.full
	w.dirty = map[string]bool{}
	w.full = false
	return folders, full
}

// Fatal reports whether err from a pass ends the watcher: refused
// credentials and a missing Maildir need the user.
func Fatal(err error) bool {
	return errors.Is(err, imapconn.ErrAuth) || errors.Is(err, sync.ErrMaildirMissing)
}

// Run watches the account until ctx ends (then it returns nil, within
// moments: a running pass stops at its next step) or a fatal error
// (Fatal) stops it.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	sel := o.Account.Folders
	if sel == nil {
		// The engine's rule: Folders, or else Exclude (checked by the
		// config).
		var err error
		if sel, err = folderpat.New(nil, o.Account.Exclude); err != nil {
			return err
		}
	}
	w := &watcher{o: o, sel: sel, kick: make(chan struct{}, 1), dirty: map[string]bool{}, full: true, idling: map[string]bool{}}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg gosync.WaitGroup
	defer wg.Wait()
	defer cancel()
	w.newConns(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); w.wakeLoop(ctx) }()

	var idle []string
	if sel.Match(model.Inbox) {
		idle = append(idle, model.Inbox)
	}
	for _, f := range o.IdleFolders {
		if !sel.Match(f) {
			w.logf("warning: folder %q is not watched: it is not among the account's synced folders", f)
			continue
		}
		if f == model.Inbox || slices.Contains(idle, f) {
			continue
		}
		if len(idle) < o.MaxIdle {
			idle = append(idle, f)
		} else {
			w.logf("warning: folder %q is polled, not watched with IDLE: at most %d IDLE connections (watch max_idle)", f, o.MaxIdle)
		}
	}
	for _, f := range idle {
		w.idling[f] = true
		wg.Add(1)
		go func() { defer wg.Done(); w.idleLoop(ctx, f) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.pollLoop(ctx) }()
	fsw, err := newFSWatch(w)
	if err != nil {
		return err
	}
	defer fsw.close()
	wg.Add(1)
	go func() { defer wg.Done(); fsw.run(ctx) }()

	return w.passLoop(ctx, fsw)
}

// passLoop runs the passes, one at a time.
func (w *watcher) passLoop(ctx context.Context, fsw *fsWatch) error {
	fullTimer := time.NewTimer(0) // the first pass is full (w.full)
	defer fullTimer.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fullTimer.C:
			w.mark("")
		case <-w.kick:
		}
		w.settle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		folders, full := w.take()
		if !full && len(folders) == 0 {
			continue
		}
		acct := w.o.Account
		if full || !literal(folders) {
			full = true
			folders = nil
			acct.Folders = w.sel
		} else {
			acct.Folders, _ = folderpat.New(folders, nil)
		}
		opts := w.o.Sync
		if !full {
			// A targeted pass lists its folders in full: a file
			// rewritten in place (inotify saw it) moves no directory
			// mtime, so the skip of unchanged folders would miss it.
			opts.Full = true
		}
		pctx := w.connContext()
		sum, err := sync.Run(pctx, acct, opts)
		if ctx.Err() != nil {
			return nil
		}
		if pctx.Err() != nil {
			// A wake-up abandoned the pass (safely, as at any step):
			// the wake-up asked for a full pass, which runs now.
			if w.o.PassDone != nil {
				w.o.PassDone(folders, sum, err)
			}
			continue
		}
		if w.o.PassDone != nil {
			w.o.PassDone(folders, sum, err)
		}
		if full {
			fsw.refresh()
			fullTimer.Reset(w.o.FullInterval)
		}
		if err != nil {
			if Fatal(err) {
				return err
			}
			backoff = next(backoff)
			w.logf("error: %s: sync failed (%v); retrying in %s", acct.Name, err, backoff)
			// Retry what this pass was for.
			if full {
				w.mark("")
			}
			for _, f := range folders {
				w.mark(f)
			}
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		if sum != nil && sum.Changed() {
			// Our own writes come back as events; one more pass of
			// the same folders confirms there is nothing left.
			for _, f := range folders {
				w.mark(f)
			}
		}
	}
}

// settle waits for a burst of changes to end: Debounce without a new
// one, or MaxDelay in all.
func (w *watcher) settle(ctx context.Context) {
	deadline := time.NewTimer(w.o.MaxDelay)
	defer deadline.Stop()
	for {
		quiet := time.NewTimer(w.o.Debounce)
		select {
		case <-ctx.Done():
			quiet.Stop()
			return
		case <-deadline.C:
			quiet.Stop()
			return
		case <-quiet.C:
			return
		case <-w.kick:
			quiet.Stop()
		}
	}
}

// literal reports whether every name can be used as a folderpat pattern
// that matches just itself.
func literal(names []string) bool {
	for _, n := range names {
		if strings.ContainsAny(n, "*%") || strings.HasPrefix(n, "!") {
			return false
		}
	}
	return true
}

func next(d time.Duration) time.Duration {
	if d < minBackoff {
		return minBackoff
	}
	return min(2*d, maxBackoff)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// idleLoop watches folder with IDLE on a connection of its own,
// redialing with backoff. After every reconnection the folder is marked
// dirty: changes made while the connection was down are not announced.
func (w *watcher) idleLoop(ctx context.Context, folder string) {
	backoff := time.Duration(0)
	first := true
	for ctx.Err() == nil {
		cctx := w.connContext()
		c, err := imapconn.Dial(cctx, w.o.Account.IMAP)
		if err == nil {
			if !first {
				w.mark(folder)
			}
			first = false
			start := time.Now()
			err = c.Idle(cctx, folder, w.o.IdleRestart, func() { w.mark(folder) })
			c.Close()
			if time.Since(start) > time.Minute {
				backoff = 0
			}
			if errors.Is(err, imapconn.ErrIdleUnsupported) {
				w.logf("warning: %v: folder %q is polled instead", err, folder)
				w.mu.Lock()
				delete(w.idling, folder)
				w.mu.Unlock()
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if cctx.Err() != nil {
			// Woken up: redial now.
			backoff = 0
			continue
		}
		backoff = next(backoff)
		w.logf("idle on %q: %v; reconnecting in %s", folder, err, backoff)
		if !sleep(ctx, backoff) {
			return
		}
	}
}

// pollLoop polls the selected folders not watched with IDLE with
// STATUS every PollInterval on one connection, redialing with backoff.
// The first poll records the baseline; later ones mark the folders whose
// status changed, and the appearance or disappearance of a folder asks
// for a full pass.
func (w *watcher) pollLoop(ctx context.Context) {
	var last map[string]model.FolderStatus
	var c *imapconn.Conn
	var cctx context.Context // the generation c belongs to
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	backoff := time.Duration(0)
	for {
		if c != nil && cctx.Err() != nil {
			// Woken up: c is likely dead; poll now on a new one.
			c.Close()
			c = nil
			backoff = 0
		}
		if c == nil {
			cctx = w.connContext()
			var err error
			if c, err = imapconn.Dial(cctx, w.o.Account.IMAP); err != nil {
				c = nil
				if ctx.Err() != nil {
					return
				}
				if cctx.Err() != nil {
					continue
				}
				backoff = next(backoff)
				w.logf("polling: %v; reconnecting in %s", err, backoff)
				if !sleep(ctx, backoff) {
					return
				}
				continue
			}
		}
		now, err := w.poll(cctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.Close()
			c = nil
			if cctx.Err() != nil {
				continue
			}
			backoff = next(backoff)
			w.logf("polling: %v; reconnecting in %s", err, backoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		if last != nil {
			for name, st := range now {
				old, ok := last[name]
				switch {
				case !ok:
					w.mark("")
				case old != st:
					w.mark(name)
				}
			}
			for name := range last {
				if _, ok := now[name]; !ok {
					w.mark("")
				}
			}
		}
		last = now
		// Sleep until the next poll, or until a wake-up ends this
		// generation of connections.
		if !sleep(cctx, w.o.PollInterval) && ctx.Err() != nil {
			return
		}
	}
}

// wallNow reads the wall clock without its monotonic reading (a test
// moves it to play a machine waking from sleep).
var wallNow = func() time.Time { return time.Now().Round(0) }

// wakeLoop notices that the machine slept: between two checks the wall
// clock moved more than the monotonic clock (which stops during
// suspend). It then drops every connection, which are redialed at once,
// and asks for a full pass.
func (w *watcher) wakeLoop(ctx context.Context) {
	t := time.NewTicker(w.o.WakeCheck)
	defer t.Stop()
	mono, wall := time.Now(), wallNow()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, wl := time.Now(), wallNow()
		if gap := wl.Sub(wall) - m.Sub(mono); gap > w.o.WakeJump {
			w.logf("the clock jumped %s (woken from sleep?): reconnecting", gap.Round(time.Second))
			w.newConns(ctx)
			w.mark("")
		}
		mono, wall = m, wl
	}
}

// poll returns the status of every selected, selectable folder not
// watched with IDLE.
func (w *watcher) poll(ctx context.Context, c *imapconn.Conn) (map[string]model.FolderStatus, error) {
	list, _, err := c.ListFolders(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]model.FolderStatus{}
	for _, f := range list {
		if w.isIdling(f.Name) || f.NoSelect || !w.sel.Match(f.Name) || (f.SpecialUse == `\All` && !w.o.Account.IncludeAllMail) {
			continue
		}
		st, err := c.Status(ctx, f.Name)
		if err != nil {
			if imapconn.IsRetryable(err) || ctx.Err() != nil {
				return nil, err
			}
			// A folder deleted since the LIST, or refused: the next
			// full pass deals with it.
			continue
		}
		out[f.Name] = st
	}
	return out, nil
}
