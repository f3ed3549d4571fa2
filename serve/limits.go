package serve

import (
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Defaults for the brute-force and connection limits (see Options).
const (
	DefaultLoginFailDelay   = 250 * time.Millisecond
	DefaultMaxLoginFailures = 10
	DefaultLoginBlockTime   = 15 * time.Minute
	DefaultMaxConns         = 100
	DefaultMaxConnsPerAddr  = 10
	maxLoginFailDelay       = 10 * time.Second
)

// loginGuard throttles failed logins per client address: the n-th
// failure in a row is answered after delay·2^(n-1) (at most 10 s), and
// after max failures the address is refused, right password or not, for
// block. A successful login clears the address's record.
type loginGuard struct {
	delay time.Duration
	max   int
	block time.Duration
	now   func() time.Time

	mu    sync.Mutex
	addrs map[string]*loginRecord
}

type loginRecord struct {
	fails   int
	last    time.Time
	blocked time.Time // refused until then
}

func newLoginGuard(delay time.Duration, max int, block time.Duration) *loginGuard {
	return &loginGuard{delay: delay, max: max, block: block, now: time.Now, addrs: make(map[string]*loginRecord)}
}

// blocked reports whether addr is refused now.
func (g *loginGuard) blocked(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.addrs[addr]
	return r != nil && g.now().Before(r.blocked)
}

// failed records a failure and returns how long to wait before
// answering it.
func (g *loginGuard) failed(addr string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.gcLocked(now)
	r := g.addrs[addr]
	if r == nil {
		r = &loginRecord{}
		g.addrs[addr] = r
	}
	r.fails++
	r.last = now
	if r.fails >= g.max {
		r.blocked = now.Add(g.block)
		r.fails = 0
	}
	d := g.delay
	for i := 1; i < r.fails && d < maxLoginFailDelay; i++ {
		d *= 2
	}
	if d > maxLoginFailDelay {
		d = maxLoginFailDelay
	}
	return d
}

func (g *loginGuard) succeeded(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.addrs, addr)
}

// gcLocked drops records idle for longer than the block time, so the
// map does not grow with every address that ever failed once.
func (g *loginGuard) gcLocked(now time.Time) {
	if len(g.addrs) < 1024 {
		return
	}
	for a, r := range g.addrs {
		if now.Sub(r.last) > g.block && now.After(r.blocked) {
			delete(g.addrs, a)
		}
	}
}

var errLoginBlocked = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeUnavailable,
	Text: "too many failed logins from your address; try again later",
}

// connCounts caps a server's open connections, over all its listeners,
// in total and per client address.
type connCounts struct {
	max, perAddr int

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

func (c *connCounts) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// connLimiter is a listener that applies a server's connCounts.
type connLimiter struct {
	net.Listener
	*connCounts
	log func(format string, args ...any)
}

func hostOf(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return h
}

// Accept returns the next connection within the limits; a connection
// over a limit is told so with BYE and closed.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		over := ""
		switch {
		case l.total >= l.max:
			over = "too many connections"
		case l.byAddr[host] >= l.perAddr:
			over = "too many connections from your address"
		default:
			l.total++
			l.byAddr[host]++
		}
		l.mu.Unlock()
		if over != "" {
			l.log("serve: %s: refused connection: %s", host, over)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write([]byte("* BYE " + over + "\r\n"))
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.total--
		if c.l.byAddr[c.host]--; c.l.byAddr[c.host] <= 0 {
			delete(c.l.byAddr, c.host)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
