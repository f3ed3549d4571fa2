package dovecottest

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port for fault injection: clients
// connect to Addr and are forwarded to the target.
type Proxy struct {
	Addr string // "127.0.0.1:NNNN"
	Host string
	Port int

	target string
	l      net.Listener

	mu      sync.Mutex
	rewrite [][2][]byte // server-to-client replacements
	cut     []byte      // armed pattern, nil when not armed
	conns   map[net.Conn]struct{}
	cuts    int
	held    bool
	stalled map[net.Conn]bool // connections that forward nothing any more
}

// NewProxy starts a proxy to target ("host:port") and closes it when the
// test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dovecottest: proxy listen: %v", err)
	}
	a := l.Addr().(*net.TCPAddr)
	p := &Proxy{Addr: a.String(), Host: "127.0.0.1", Port: a.Port, target: target, l: l, conns: map[net.Conn]struct{}{}, stalled: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// CutAfter arms the proxy: the next time the server-to-client stream of
// any connection contains pattern (which may span reads), both sides of
// that connection are closed before the chunk holding the end of the
// pattern is forwarded. The server has then done the work it answers, but
// the client never sees the answer. It fires once; call again to re-arm.
func (p *Proxy) CutAfter(pattern []byte) {
	p.mu.Lock()
	p.cut = append([]byte(nil), pattern...)
	p.mu.Unlock()
}

// Rewrite makes the proxy replace old with new in everything the server
// sends from now on, to play a server that sends what Dovecot never
// would (a match split across two reads is missed: keep old short).
func (p *Proxy) Rewrite(old, new []byte) {
	p.mu.Lock()
	p.rewrite = append(p.rewrite, [2][]byte{old, new})
	p.mu.Unlock()
}

// Hold stops (true) or resumes (false) forwarding server-to-client data,
// to make a client wait for an answer that does not come.
func (p *Proxy) Hold(on bool) {
	p.mu.Lock()
	p.held = on
	p.mu.Unlock()
}

// Stall silently kills every connection open now, as a laptop's sleep
// or a change of network does: nothing more is forwarded either way and
// nothing is closed, so neither side notices. New connections work.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		p.stalled[c] = true
	}
}

func (p *Proxy) waitHeld(c net.Conn) {
	for {
		p.mu.Lock()
		held := p.held || p.stalled[c]
		_, open := p.conns[c]
		p.mu.Unlock()
		if !held || !open {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStalled blocks while c is stalled and open.
func (p *Proxy) waitStalled(c net.Conn) {
	for {
		p.mu.Lock()
		stalled := p.stalled[c]
		_, open := p.conns[c]
		p.mu.Unlock()
		if !stalled || !open {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cuts reports how many times a CutAfter pattern fired.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// CloseConns closes every proxied connection (both sides) now.
func (p *Proxy) CloseConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops accepting and closes every proxied connection.
func (p *Proxy) Close() {
	p.l.Close()
	p.CloseConns()
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
		delete(p.stalled, c)
	}
}

func (p *Proxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		closeBoth := func() {
			client.Close()
			server.Close()
			p.track(client, false)
			p.track(server, false)
		}
		go func() {
			defer closeBoth()
			buf := make([]byte, 32*1024)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					p.waitStalled(client)
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer closeBoth()
			buf := make([]byte, 32*1024)
			var tail []byte // end of what was forwarded, to match across reads
			for {
				n, err := server.Read(buf)
				if n > 0 {
					chunk := buf[:n]
					p.mu.Lock()
					for _, rw := range p.rewrite {
						chunk = bytes.ReplaceAll(chunk, rw[0], rw[1])
					}
					pat := p.cut
					if pat != nil {
						hay := append(append([]byte(nil), tail...), chunk...)
						if bytes.Contains(hay, pat) {
							p.cut = nil
							p.cuts++
							p.mu.Unlock()
							return
						}
						if keep := len(pat) - 1; len(hay) > keep {
							tail = hay[len(hay)-keep:]
						} else {
							tail = hay
						}
					}
					p.mu.Unlock()
					p.waitHeld(client)
					if _, werr := client.Write(chunk); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
