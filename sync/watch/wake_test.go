package watch

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// A laptop that sleeps: its connections stay open on its side while the
// network under them is gone, so the server's IDLE notifications never
// arrive and nothing fails. On waking (the wall clock jumps ahead of the
// monotonic clock) the watcher must reconnect and catch up within
// seconds, not at the next IDLE restart or full pass.
func TestWakeFromSleep(t *testing.T) {
	var skew atomic.Int64
	old := wallNow
	wallNow = func() time.Time { return time.Now().Round(0).Add(time.Duration(skew.Load())) }
	t.Cleanup(func() { wallNow = old })

	srv := dovecottest.Start(t, nil)
	proxy := dovecottest.NewProxy(t, srv.Addr)
	h := startOn(t, srv, proxy, func(o *Options) {
		o.IdleRestart = time.Hour
		o.FullInterval = time.Hour
		o.WakeCheck = 200 * time.Millisecond
	})
	// Let the IDLE connection settle in IDLE, then the network goes.
	time.Sleep(time.Second)
	proxy.Stall()
	srv.Save(t, "INBOX", msg("arrived during sleep"))
	time.Sleep(2 * time.Second)
	if h.localHas(t, "INBOX", "arrived during sleep") {
		t.Fatal("the message arrived over a stalled connection: the test does not test sleep")
	}

	// Wake up: an hour passed on the wall clock.
	skew.Add(int64(time.Hour))
	d := eventually(t, bound, "message that arrived during sleep", func() bool { return h.localHas(t, "INBOX", "arrived during sleep") })
	t.Logf("latency after waking: %s", d)

	// IDLE works again on the new connection.
	srv.Save(t, "INBOX", msg("after waking"))
	d = eventually(t, bound, "message after waking", func() bool { return h.localHas(t, "INBOX", "after waking") })
	t.Logf("latency server→local after waking: %s", d)
	h.deliver(t, "INBOX", msg("local after waking"))
	eventually(t, bound, "local message after waking", func() bool { _, ok := h.serverMsg(t, "INBOX", "local after waking"); return ok })
}
