package watch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync"
)

// harness is a Dovecot, an account on it and a running watcher.
type harness struct {
	srv    *dovecottest.Server
	acct   sync.Account
	md     *maildir.Maildir
	cancel context.CancelFunc
	done   chan error

	mu     gosync.Mutex
	passes int
	errs   []string
}

func start(t *testing.T, tweak func(*Options)) *harness {
	t.Helper()
	return startOn(t, dovecottest.Start(t, nil), nil, tweak)
}

// startOn starts a watcher of srv, through proxy when not nil.
func startOn(t *testing.T, srv *dovecottest.Server, proxy *dovecottest.Proxy, tweak func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{srv: srv, done: make(chan error, 1)}
	h.acct = sync.Account{
		Name: "test",
		IMAP: imapconn.Options{Host: srv.Host, Port: srv.Port, TLS: "none", User: srv.User, Password: srv.Password,
			DialTimeout: 10 * time.Second},
		Maildir:     filepath.Join(dir, "Mail"),
		StatePath:   filepath.Join(dir, "state", "test.db"),
		Connections: 2,
	}
	if proxy != nil {
		h.acct.IMAP.Port = proxy.Port
	}
	md, err := maildir.Open(h.acct.Maildir)
	if err != nil {
		t.Fatal(err)
	}
	h.md = md
	// The Maildir exists from the start so that it is watched.
	if _, err := md.CreateFolder(model.Inbox); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Account:      h.acct,
		PollInterval: 500 * time.Millisecond,
		Logf:         func(format string, args ...any) { t.Logf("watch: "+format, args...) },
		PassDone: func(folders []string, sum *sync.Summary, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.passes++
			if err != nil {
				h.errs = append(h.errs, err.Error())
			}
		},
	}
	if tweak != nil {
		tweak(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("watcher did not stop")
		}
	})
	h.waitPasses(t, 1)
	return h
}

func (h *harness) waitPasses(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		p := h.passes
		h.mu.Unlock()
		if p >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pass %d within 30 s", n)
}

// eventually polls cond until it holds, failing after limit; it returns
// how long it took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, limit)
	return 0
}

func eventuallyEvery(t *testing.T, limit, every time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); time.Since(start) < limit; time.Sleep(every) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, limit)
}

func msg(subject string) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\nTo: b@example.org\nSubject: %s\nMessage-ID: <%d@example.org>\n\nbody of %s\n", subject, time.Now().UnixNano(), subject))
}

// localHas reports whether a local message of folder contains needle.
func (h *harness) localHas(t *testing.T, folder, needle string) bool {
	f, err := h.md.Folder(folder)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := f.Scan()
	if err != nil {
		return false
	}
	for _, e := range ents {
		data, err := os.ReadFile(f.EntryPath(e))
		if err == nil && bytes.Contains(data, []byte(needle)) {
			return true
		}
	}
	return false
}

// serverMsg returns the server's message of folder that contains needle.
func (h *harness) serverMsg(t *testing.T, folder, needle string) (dovecottest.Msg, bool) {
	for _, m := range h.srv.Messages(t, folder) {
		if bytes.Contains(m.Body, []byte(needle)) {
			return m, true
		}
	}
	return dovecottest.Msg{}, false
}

// deliver writes a message into folder's new/ as an MDA would.
func (h *harness) deliver(t *testing.T, folder string, body []byte) string {
	t.Helper()
	f, err := h.md.Folder(folder)
	if err != nil {
		t.Fatal(err)
	}
	key := maildir.NewKey()
	tmp := filepath.Join(f.Path(), "tmp", key)
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.Path(), "new", key)); err != nil {
		t.Fatal(err)
	}
	return key
}

const bound = 5 * time.Second

func TestServerToLocal(t *testing.T) {
	h := start(t, nil)
	for i := 0; i < 3; i++ {
		time.Sleep(1500 * time.Millisecond) // steady state: no pass running
		s := fmt.Sprintf("pushed by the server %d", i)
		h.srv.Save(t, "INBOX", msg(s))
		d := eventually(t, bound, "server message in the Maildir", func() bool { return h.localHas(t, "INBOX", s) })
		t.Logf("latency server→local (IDLE, INBOX): %s", d)
	}
}

func TestLocalToServer(t *testing.T) {
	h := start(t, nil)
	for i := 0; i < 3; i++ {
		time.Sleep(1500 * time.Millisecond)
		s := fmt.Sprintf("delivered locally %d", i)
		h.deliver(t, "INBOX", msg(s))
		d := eventually(t, bound, "local message on the server", func() bool { _, ok := h.serverMsg(t, "INBOX", s); return ok })
		t.Logf("latency local→server (new/): %s", d)
	}
}

func TestPolledFolderToLocal(t *testing.T) {
	h := start(t, nil)
	h.srv.CreateMailbox(t, "Lists")
	// The new folder needs a full pass; the poller notices it.
	h.srv.Save(t, "Lists", msg("in a polled folder"))
	d := eventually(t, 2*bound, "polled folder's message in the Maildir", func() bool { return h.localHas(t, "Lists", "in a polled folder") })
	t.Logf("latency server→local (new polled folder): %s", d)
	h.srv.Save(t, "Lists", msg("second in a polled folder"))
	d = eventually(t, bound, "second message of the polled folder", func() bool { return h.localHas(t, "Lists", "second in a polled folder") })
	t.Logf("latency server→local (STATUS poll every 500ms): %s", d)
}

func TestFlagRenameToServer(t *testing.T) {
	h := start(t, nil)
	h.srv.Save(t, "INBOX", msg("to be flagged"))
	eventually(t, bound, "download", func() bool { return h.localHas(t, "INBOX", "to be flagged") })
	// A mail reader renames the file (new/ or cur/) to flag it.
	f, _ := h.md.Folder(model.Inbox)
	ents, err := f.Scan()
	if err != nil || len(ents) != 1 {
		t.Fatalf("scan: %v %v", ents, err)
	}
	key, _, _ := maildir.ParseName(ents[0].Name)
	if err := os.Rename(f.EntryPath(ents[0]), filepath.Join(f.Path(), "cur", key+":2,FS")); err != nil {
		t.Fatal(err)
	}
	d := eventually(t, bound, "flags on the server", func() bool {
		m, ok := h.serverMsg(t, "INBOX", "to be flagged")
		return ok && strings.Contains(strings.Join(m.Flags, " "), `\Flagged`) && strings.Contains(strings.Join(m.Flags, " "), `\Seen`)
	})
	t.Logf("latency flag change local→server: %s", d)
}

func TestSurvivesKick(t *testing.T) {
	h := start(t, func(o *Options) { o.IdleRestart = time.Hour })
	h.srv.KickConnections(t)
	h.srv.Save(t, "INBOX", msg("after the kick"))
	// The IDLE connection comes back after a 1 s backoff and marks INBOX
	// dirty; allow for it.
	d := eventually(t, bound, "message after a kick", func() bool { return h.localHas(t, "INBOX", "after the kick") })
	t.Logf("latency server→local across a kick: %s", d)
	h.srv.KickConnections(t)
	h.deliver(t, "INBOX", msg("local after the kick"))
	eventually(t, bound, "local message after a kick", func() bool { _, ok := h.serverMsg(t, "INBOX", "local after the kick"); return ok })
}

// A real server restart: Dovecot stops for a few seconds (connections
// closed, new ones refused) and starts again. A local change made while
// it is down and a server change made after it is back both arrive: the
// watcher reconnects with backoff and catches up.
func TestSurvivesServerRestart(t *testing.T) {
	h := start(t, func(o *Options) { o.IdleRestart = time.Hour })
	h.deliver(t, "INBOX", msg("before the restart"))
	eventually(t, bound, "local message before the restart", func() bool { _, ok := h.serverMsg(t, "INBOX", "before the restart"); return ok })
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(500 * time.Millisecond)
		h.deliver(t, "INBOX", msg("local while down"))
	}()
	restart := time.Now()
	h.srv.Restart(t, 2*time.Second)
	t.Logf("restart took %s", time.Since(restart).Round(10*time.Millisecond))
	<-done
	up := time.Now()
	h.srv.Save(t, "INBOX", msg("server after the restart"))
	// Backoff after the failed reconnects is at most a few seconds.
	limit := bound + 8*time.Second
	eventually(t, limit, "local change made while the server was down", func() bool { _, ok := h.serverMsg(t, "INBOX", "local while down"); return ok })
	eventually(t, limit, "server change after the restart", func() bool { return h.localHas(t, "INBOX", "server after the restart") })
	t.Logf("both sides caught up %s after the server came back", time.Since(up).Round(10*time.Millisecond))
}

// Network loss: every connection of the watcher is cut (as by a server
// restart or a dropped link, without a BYE); it reconnects and the next
// changes on both sides still arrive.
func TestSurvivesConnectionLoss(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	proxy := dovecottest.NewProxy(t, srv.Addr)
	h := startOn(t, srv, proxy, nil)
	for i := 0; i < 2; i++ {
		proxy.CloseConns()
		s := fmt.Sprintf("after cut %d", i)
		srv.Save(t, "INBOX", msg(s))
		d := eventually(t, bound, s, func() bool { return h.localHas(t, "INBOX", s) })
		t.Logf("latency server→local across a cut connection: %s", d)
		l := fmt.Sprintf("local after cut %d", i)
		h.deliver(t, "INBOX", msg(l))
		d = eventually(t, bound, l, func() bool { _, ok := h.serverMsg(t, "INBOX", l); return ok })
		t.Logf("latency local→server after a cut: %s", d)
	}
}

// A pass that fails (here: the state file is held by a one-shot sync) is
// retried with backoff; the watcher keeps running and catches up.
func TestFailedPassIsRetried(t *testing.T) {
	h := start(t, nil)
	db, err := statedb.Open(h.acct.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Save(t, "INBOX", msg("server side during the lock"))
	h.deliver(t, "INBOX", msg("local while locked"))
	time.Sleep(3 * time.Second)
	h.mu.Lock()
	failed := len(h.errs)
	h.mu.Unlock()
	if failed == 0 || h.localHas(t, "INBOX", "server side during the lock") {
		t.Fatalf("with the state file held: %d failed passes", failed)
	}
	db.Close()
	d := eventually(t, 10*time.Second, "catching up after the lock", func() bool {
		_, ok := h.serverMsg(t, "INBOX", "local while locked")
		return ok && h.localHas(t, "INBOX", "server side during the lock")
	})
	t.Logf("caught up %s after the lock was released (%d failed passes)", d, failed)
}

func TestCancelThenNothingToDo(t *testing.T) {
	h := start(t, nil)
	h.srv.Save(t, "INBOX", msg("before cancel"))
	h.deliver(t, "INBOX", msg("local before cancel"))
	eventually(t, bound, "both synced", func() bool {
		_, ok := h.serverMsg(t, "INBOX", "local before cancel")
		return ok && h.localHas(t, "INBOX", "before cancel")
	})
	// Let the confirming pass run, so that the cancel is not mid-pass
	// by design; the test below cancels whatever is running.
	time.Sleep(1500 * time.Millisecond)
	start := time.Now()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("watcher returned %v", err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(2 * time.Second):
		t.Fatal("watcher did not return within 2 s of cancel")
	}
	t.Logf("watcher returned %s after cancel", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := sync.Run(ctx, h.acct, sync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Changed() {
		t.Fatalf("one-shot sync after the watcher still had work: %+v", sum)
	}
}

// TestSoak runs steady changes on both sides (MAILSYNC_SOAK=1; length
// MAILSYNC_SOAK_DURATION, default 10m) and checks that memory does not
// grow by 5 MB or more.
func TestSoak(t *testing.T) {
	if os.Getenv("MAILSYNC_SOAK") != "1" {
		t.Skip("set MAILSYNC_SOAK=1 to run the soak test")
	}
	length := 10 * time.Minute
	if s := os.Getenv("MAILSYNC_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		length = d
	}
	h := start(t, nil)
	rss := func() int64 {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(l, "VmRSS: %d kB", &kb); err == nil {
				return kb * 1024
			}
		}
		t.Fatal("no VmRSS")
		return 0
	}
	step := func(i int) {
		s := fmt.Sprintf("soak %d", i)
		if i%2 == 0 {
			h.srv.Save(t, "INBOX", msg(s))
			eventuallyEvery(t, 30*time.Second, 100*time.Millisecond, s, func() bool { return h.localHas(t, "INBOX", s) })
		} else {
			h.deliver(t, "INBOX", msg(s))
			eventuallyEvery(t, 30*time.Second, 100*time.Millisecond, s, func() bool { _, ok := h.serverMsg(t, "INBOX", s); return ok })
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Warm up (caches, pools, the runtime's own growth), then measure.
	i := 0
	for ; i < 20; i++ {
		step(i)
	}
	debug.FreeOSMemory()
	before, gBefore := rss(), runtime.NumGoroutine()
	end := time.Now().Add(length)
	for ; time.Now().Before(end); i++ {
		step(i)
	}
	debug.FreeOSMemory()
	after, gAfter := rss(), runtime.NumGoroutine()
	t.Logf("%d changes; goroutines %d → %d", i, gBefore, gAfter)
	if gAfter > gBefore+5 {
		t.Errorf("goroutines grew from %d to %d", gBefore, gAfter)
	}
	t.Logf("RSS %d → %d bytes (%+d)", before, after, after-before)
	if after-before >= 5<<20 {
		t.Fatalf("RSS grew by %d bytes", after-before)
	}
}

// A folder of the watch list is watched with IDLE: with polling off in
// effect (1 h) its changes still arrive at once. Beyond max_idle it is
// polled instead.
func TestWatchFoldersIdleAndCap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxIdle int
		poll    time.Duration
	}{{"idle", 5, time.Hour}, {"polled beyond max_idle", 1, 500 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dovecottest.Start(t, nil)
			srv.CreateMailbox(t, "Lists/go")
			h := startOn(t, srv, nil, func(o *Options) {
				o.IdleFolders = []string{"Lists/go"}
				o.MaxIdle = tc.maxIdle
				o.PollInterval = tc.poll
			})
			time.Sleep(1500 * time.Millisecond) // steady state: no pass running
			srv.Save(t, "Lists/go", msg("list mail"))
			d := eventually(t, bound, "list mail", func() bool { return h.localHas(t, "Lists/go", "list mail") })
			t.Logf("latency server→local (Lists/go, %s): %s", tc.name, d)
		})
	}
}

// The watcher's own writes do not keep it busy: after a change and its
// confirming pass, nothing runs until the next change.
func TestQuietWhenNothingChanges(t *testing.T) {
	h := start(t, nil)
	h.srv.Save(t, "INBOX", msg("one change"))
	h.deliver(t, "INBOX", msg("one local change"))
	eventually(t, bound, "synced", func() bool {
		_, ok := h.serverMsg(t, "INBOX", "one local change")
		return ok && h.localHas(t, "INBOX", "one change")
	})
	time.Sleep(3 * time.Second)
	h.mu.Lock()
	n := h.passes
	h.mu.Unlock()
	time.Sleep(4 * time.Second) // eight polls
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.passes != n {
		t.Fatalf("%d passes ran with nothing changing", h.passes-n)
	}
	t.Logf("%d passes in all", n)
}

// Cancelled in the middle of a pass, the watcher still returns within
// 2 s, and the state it leaves is one a one-shot sync finishes from.
func TestCancelMidPass(t *testing.T) {
	h := start(t, nil)
	for i := 0; i < 30; i++ {
		h.deliver(t, "INBOX", msg(fmt.Sprintf("burst %d", i)))
	}
	time.Sleep(1100 * time.Millisecond) // past the debounce: the pass runs
	start := time.Now()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("watcher returned %v", err)
		}
		h.done <- nil
	case <-time.After(2 * time.Second):
		t.Fatal("watcher did not return within 2 s of cancel")
	}
	t.Logf("returned %s after a mid-pass cancel", time.Since(start))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sync.Run(ctx, h.acct, sync.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.srv.Messages(t, "INBOX")); n != 30 {
		t.Fatalf("server has %d messages, want 30", n)
	}
}
