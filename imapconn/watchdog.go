package imapconn

import (
	"fmt"
	"sync"
	"time"
)

// defaultTimeout is Options.Timeout when zero.
const defaultTimeout = 60 * time.Second

// watchdog enforces Options.Timeout: while a call is waiting on the
// server (armed), the connection is closed when no byte has moved in
// either direction for the timeout, and the stall is recorded so that
// the call's error says what was being done. Between calls (disarmed) a
// silent server is normal and nothing happens. go-imap's own fixed
// deadlines are disabled (see listGuard), so this is the only timer.
type watchdog struct {
	timeout time.Duration
	addr    string
	onStall func() // closes the transport

	mu      sync.Mutex
	armed   bool
	op      string
	last    time.Time
	stalled error
	timer   *time.Timer
	stopped bool
}

func newWatchdog(timeout time.Duration, addr string, onStall func()) *watchdog {
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	w := &watchdog{timeout: timeout, addr: addr, onStall: onStall}
	w.timer = time.AfterFunc(timeout, w.check)
	w.timer.Stop()
	return w
}

// arm starts timing op (what the client waits for, e.g. "selecting
// folder \"INBOX\"").
func (w *watchdog) arm(op string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.armed, w.op, w.last = true, op, time.Now()
	w.timer.Reset(w.timeout)
}

// disarm stops timing: the call is over.
func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	w.timer.Stop()
}

// stop disarms for good (the Conn is closing).
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.stopped = false, true
	w.timer.Stop()
}

// pause stops timing while the client itself is busy (a callback
// writing to disk), so that slow local work is not taken for a silent
// server; the returned resume starts timing again from then.
func (w *watchdog) pause() (resume func()) {
	w.mu.Lock()
	wasArmed := w.armed
	w.armed = false
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if wasArmed && !w.stopped && w.stalled == nil {
			w.armed, w.last = true, time.Now()
			w.timer.Reset(w.timeout)
		}
	}
}

// progress records that bytes moved.
func (w *watchdog) progress() {
	w.mu.Lock()
	w.last = time.Now()
	w.mu.Unlock()
}

func (w *watchdog) check() {
	w.mu.Lock()
	if !w.armed {
		w.mu.Unlock()
		return
	}
	idle := time.Since(w.last)
	if idle < w.timeout {
		w.timer.Reset(w.timeout - idle)
		w.mu.Unlock()
		return
	}
	w.stalled = fmt.Errorf("server %s sent nothing for %s while %s (the account's timeout; raise it if the server is just slow)", w.addr, w.timeout, w.op)
	w.armed = false
	w.mu.Unlock()
	w.onStall()
}

// takeStall returns the recorded stall, if any, and forgets it.
func (w *watchdog) takeStall() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.stalled
	w.stalled = nil
	return err
}
