package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 9: failed logins are slowed down and then refused per address,
// even with the right password; failures are logged with the address.
func TestLoginThrottle(t *testing.T) {
	var logs syncBuf
	e := newEnv(t, func(o *Options) {
		o.LoginFailDelay = 20 * time.Millisecond
		o.MaxLoginFailures = 5
		o.LoginBlockTime = time.Hour
		o.Logf = func(format string, args ...any) { fmt.Fprintf(&logs, format+"\n", args...) }
	})
	c := dialRaw(t, "serve", e.addr)
	var took []time.Duration
	for i := 0; i < 4; i++ {
		start := time.Now()
		l := c.cmd(`LOGIN alice wrong`)
		took = append(took, time.Since(start))
		if !strings.Contains(l[len(l)-1], "NO") {
			t.Fatalf("wrong password: %q", l)
		}
	}
	// The delay grows: 20, 40, 80, 160 ms.
	if took[0] < 20*time.Millisecond || took[3] < 160*time.Millisecond || took[3] <= took[0] {
		t.Errorf("failed logins answered after %v: no growing delay", took)
	}
	c.cmd(`LOGIN alice wrong`) // the fifth: the address is now blocked
	l := c.cmd(fmt.Sprintf("LOGIN alice %q", testPass))
	if !strings.Contains(l[len(l)-1], "NO [UNAVAILABLE]") {
		t.Fatalf("right password after 5 failures: %q, want NO [UNAVAILABLE]", l)
	}
	// A new connection from the same address is refused too.
	c2 := dialRaw(t, "serve", e.addr)
	l = c2.cmd(fmt.Sprintf("LOGIN alice %q", testPass))
	if !strings.Contains(l[len(l)-1], "NO") {
		t.Fatalf("new connection logged in while blocked: %q", l)
	}
	if !strings.Contains(logs.String(), "127.0.0.1: failed login") {
		t.Errorf("failures not logged with the address:\n%s", logs.String())
	}
}

func TestLoginSuccessResetsThrottle(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.LoginFailDelay = time.Millisecond
		o.MaxLoginFailures = 3
	})
	for i := 0; i < 3; i++ {
		c := dialRaw(t, "serve", e.addr)
		c.cmd("LOGIN alice wrong")
		c.cmd("LOGIN alice wrong")
		c.ok(c.cmd(fmt.Sprintf("LOGIN alice %q", testPass)))
	}
}

func TestConnectionLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxConnsPerAddr = 3; o.MaxConns = 5 })
	var conns []net.Conn
	read := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return l
	}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", e.addr)
		must(t, err)
		defer c.Close()
		if l := read(c); !strings.HasPrefix(l, "* OK") {
			t.Fatalf("connection %d: %q", i+1, l)
		}
		conns = append(conns, c)
	}
	c, err := net.Dial("tcp", e.addr)
	must(t, err)
	defer c.Close()
	if l := read(c); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("fourth connection from one address: %q, want BYE", l)
	}
	// Closing one frees its place.
	conns[0].Close()
	waitFor(t, "a free connection slot", 5*time.Second, func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			return false
		}
		defer c.Close()
		return strings.HasPrefix(read(c), "* OK")
	})
	// The total cap counts every address: 127.0.0.2 is another one.
	waitFor(t, "closed connections to be counted", 5*time.Second, func() bool { return e.srv.conns.open() == 2 })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var others []string
	for i := 0; i < 4; i++ {
		c, err := d.Dial("tcp", e.addr)
		must(t, err)
		defer c.Close()
		others = append(others, read(c))
	}
	if !strings.HasPrefix(others[0], "* OK") || !strings.HasPrefix(others[2], "* OK") || !strings.HasPrefix(others[3], "* BYE") {
		t.Errorf("from a second address with 2 of 5 taken: %q", others)
	}
}

// A folder that is a symlink out of the Maildir is refused for SELECT
// and APPEND, and no reply shows a server path.
func TestSymlinkFolderRefused(t *testing.T) {
	e := newEnv(t, nil)
	outside := filepath.Join(t.TempDir(), "elsewhere")
	for _, d := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(outside, d), 0o700))
	}
	must(t, os.WriteFile(filepath.Join(outside, "cur", "1.secret:2,S"), []byte("Subject: secret\n\nsecret\n"), 0o600))
	must(t, os.Symlink(outside, filepath.Join(e.root, ".Evil")))
	c := dialRaw(t, "serve", e.addr)
	c.ok(c.cmd(fmt.Sprintf("LOGIN alice %q", testPass)))
	for _, cmd := range []string{"SELECT Evil", "EXAMINE Evil", "STATUS Evil (MESSAGES)"} {
		l := c.cmd(cmd)
		if last := l[len(l)-1]; !strings.Contains(last, " NO ") {
			t.Errorf("%s: %q", cmd, l)
		}
		for _, line := range l {
			if strings.Contains(line, outside) || strings.Contains(line, e.root) {
				t.Errorf("%s: reply shows a server path: %q", cmd, line)
			}
		}
	}
	l := c.appendMsg("Evil", "", crlfMsg)
	if !strings.Contains(l[len(l)-1], " NO ") {
		t.Errorf("APPEND to a symlinked folder: %q", l)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "new")); len(ents) != 0 {
		t.Errorf("APPEND wrote outside the Maildir")
	}
	// A symlink that stays inside the root is fine.
	e.folder("Real")
	must(t, os.Symlink(filepath.Join(e.root, ".Real"), filepath.Join(e.root, ".Alias")))
	c.ok(c.cmd("SELECT Alias"))
}

// Error replies name the folder, never a path on the server.
func TestErrorsShowNoPaths(t *testing.T) {
	e := newEnv(t, nil)
	e.folder("Box")
	// Make the folder unreadable in a way that makes commands fail.
	must(t, os.RemoveAll(filepath.Join(e.root, ".Box", "cur")))
	must(t, os.WriteFile(filepath.Join(e.root, ".Box", "cur"), nil, 0o600))
	c := dialRaw(t, "serve", e.addr)
	c.ok(c.cmd(fmt.Sprintf("LOGIN alice %q", testPass)))
	// A file where the folder's directory would go makes CREATE fail
	// inside maildir, whose error names the path.
	must(t, os.WriteFile(filepath.Join(e.root, ".Blocked"), nil, 0o600))
	var all []string
	l := c.cmd("CREATE Blocked")
	if !strings.Contains(l[len(l)-1], `NO [CANNOT] cannot create "Blocked"`) {
		t.Errorf("CREATE over a file: %q", l)
	}
	all = append(all, l...)
	all = append(all, c.cmd("SELECT Box")...)
	all = append(all, c.cmd("CREATE Box/Sub/../x")...)
	all = append(all, c.cmd("DELETE Nope")...)
	all = append(all, c.cmd("RENAME Nope Other")...)
	all = append(all, c.appendMsg("Nope", "", crlfMsg)...)
	for _, l := range all {
		if strings.Contains(l, e.root) || strings.Contains(l, "/tmp") {
			t.Errorf("reply shows a server path: %q", l)
		}
	}
}

// A large APPEND streams to tmp/: the server's heap does not grow by
// anything like the message size.
func TestAppendStreams(t *testing.T) {
	e := newEnv(t, nil)
	const size = 64 << 20
	c := dialRaw(t, "serve", e.addr)
	c.ok(c.cmd(fmt.Sprintf("LOGIN alice %q", testPass)))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	c.write(fmt.Sprintf("A1 APPEND INBOX {%d}\r\n", size))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND: %q", l)
	}
	line := bytes.Repeat([]byte("0123456789abcdef"), 4)
	line = append(line, '\r', '\n')
	hdr := []byte("Subject: big\r\n\r\n")
	c.write(string(hdr))
	sent, crlfs := len(hdr), 2
	for sent+len(line) <= size {
		crlfs++
		if _, err := c.c.Write(line); err != nil {
			t.Fatal(err)
		}
		sent += len(line)
	}
	c.write(strings.Repeat("x", size-sent) + "\r\n")
	res := c.until("A1")
	close(stop)
	wg.Wait()
	c.ok(res)
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap grew by %d MB during a %d MB APPEND", grew>>20, size>>20)
	if grew > size/4 {
		t.Errorf("heap grew by %d MB during a %d MB APPEND: the message is held in memory", grew>>20, size>>20)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ not empty after APPEND")
	}
	for _, en := range e.files("INBOX") {
		if want := int64(size - crlfs); en.Size != want {
			t.Errorf("stored %d bytes, want %d (LF line ends)", en.Size, want)
		}
	}
}
