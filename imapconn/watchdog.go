package imapconn

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// defaultTimeout is Options.Timeout when zero.
const defaultTimeout = 60 * time.Second

// watchdog enforces Options.Timeout: while a call is waiting on the
// server (armed), the connection is closed when nothing has moved for
// the call in either direction for the timeout (bytes written, or bytes
// read that talk counts as progress: endless "* OK" lines do not), and
// the stall is recorded so that the call's error says what was being
// done. Between calls (disarmed) a
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
	chatty  bool // chatter came since the last progress
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
	w.armed, w.op, w.last, w.chatty = true, op, time.Now(), false
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

// progress records that bytes moved for the call.
func (w *watchdog) progress() {
	w.mu.Lock()
	w.last, w.chatty = time.Now(), false
	w.mu.Unlock()
}

// chatter records that the server sent bytes that are no progress.
func (w *watchdog) chatter() {
	w.mu.Lock()
	w.chatty = true
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
	if w.chatty {
		w.stalled = fmt.Errorf("server %s sent only untagged status lines, no answer, for %s while %s (the account's timeout; raise it if the server is just slow)", w.addr, w.timeout, w.op)
	} else {
		w.stalled = fmt.Errorf("server %s sent nothing for %s while %s (the account's timeout; raise it if the server is just slow)", w.addr, w.timeout, w.op)
	}
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

// talk sorts what the server sends into progress for the command in
// flight, which restarts the watchdog's clock, and chatter, which does
// not: responses a server may send at any time whatever the client
// waits for, untagged OK, NO, BAD, BYE and FLAGS and "n EXISTS" and
// "n RECENT" (with any literal they carry and the rest of their line).
// So a server that answers a command with nothing but such lines (e.g.
// "* OK still here" every 100 ms) stalls as surely as a silent one.
// Everything else counts: tagged responses, continuation requests, data
// responses (FETCH, SEARCH, LIST, EXPUNGE, …), literals, and every byte
// the client writes. A slow server that sends chatter while it works
// (Dovecot's "* OK Searched 30% of the mailbox") needs a timeout that
// covers the whole wait.
type talk struct {
	head [24]byte // the start of the current line (enough to sort it)
	n    int
	kind talkKind // of the current line
	cont talkKind // of the line a literal interrupted, which goes on after it
	lit  talkKind // of the line whose literal is coming
	// chatted: a whole chatter line came since the last takeChatted.
	chatted bool
}

type talkKind int8

const (
	undecided talkKind = iota
	chatter
	progress
)

// line takes the next bytes of a response line (end: the line ends with
// them) and reports whether they are progress.
func (t *talk) line(b []byte, end bool) bool {
	if t.kind == undecided && t.cont != undecided {
		t.kind, t.cont = t.cont, undecided
	}
	if t.kind == undecided {
		t.n += copy(t.head[t.n:], b)
		h := t.head[:t.n]
		switch {
		case h[0] != '*' || (len(h) >= 2 && h[1] != ' '):
			t.kind = progress
		case end || t.n == len(t.head):
			t.kind = progress
			if isChatter(h) {
				t.kind = chatter
			}
		}
	}
	return t.kind == progress
}

// endLine ends the current line; literal says whether it announced one.
func (t *talk) endLine(literal bool) {
	if t.kind == chatter {
		t.chatted = true
	}
	if literal {
		t.lit, t.cont = t.kind, t.kind
	}
	t.kind, t.n = undecided, 0
}

// takeChatted reports whether a whole chatter line came since the last
// call.
func (t *talk) takeChatted() bool {
	c := t.chatted
	t.chatted = false
	return c
}

// literalMoves reports whether the bytes of the literal coming are
// progress.
func (t *talk) literalMoves() bool { return t.lit != chatter }

// isChatter reports whether a response line starting with head (at least
// its first 24 bytes, or all of it) is chatter (see talk).
func isChatter(head []byte) bool {
	if !bytes.HasPrefix(head, []byte("* ")) {
		return false
	}
	rest := bytes.ToUpper(head[2:])
	word := func(b []byte, kw string) bool {
		return bytes.HasPrefix(b, []byte(kw)) && (len(b) == len(kw) || b[len(kw)] == ' ' || b[len(kw)] == '\r' || b[len(kw)] == '\n')
	}
	for _, kw := range []string{"OK", "NO", "BAD", "BYE", "FLAGS"} {
		if word(rest, kw) {
			return true
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(rest) || rest[i] != ' ' {
		return false
	}
	return word(rest[i+1:], "EXISTS") || word(rest[i+1:], "RECENT")
}
