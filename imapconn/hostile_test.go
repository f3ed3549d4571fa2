package imapconn_test

// Scripted hostile servers: each test runs a tiny IMAP server on loopback
// that misbehaves in one way, and checks that the client fails with a
// clear error, on its own, with bounded memory, and never prints the
// password.

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

const hostilePassword = "hunter2-s3cret"

// script answers one command (tag, upper-case name, rest of line) by
// writing to w; it returns false to stop serving.
type script func(w *bufio.Writer, tag, cmd, args string) bool

// hostile starts a server on loopback that greets with greeting (a full
// line without CRLF, or "" to let the script greet) and answers each
// command line with s, falling back to a well-behaved LOGIN,
// AUTHENTICATE, CAPABILITY, LOGOUT.
func hostile(t *testing.T, greeting string, s script) imapconn.Options {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg gosync.WaitGroup
	var conns []net.Conn
	var mu gosync.Mutex
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serveScript(conn, greeting, s)
			}()
		}
	}()
	addr := l.Addr().(*net.TCPAddr)
	return imapconn.Options{Host: "127.0.0.1", Port: addr.Port, TLS: "none", User: "u", Password: hostilePassword,
		DialTimeout: 5 * time.Second, Timeout: 5 * time.Second}
}

func serveScript(conn net.Conn, greeting string, s script) {
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	if greeting != "" {
		fmt.Fprintf(w, "%s\r\n", greeting)
		w.Flush()
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		// A non-synchronizing literal ({n+}, LITERAL+) is read with its
		// command: the script gets it in args.
		for {
			m := literalPlus.FindStringSubmatch(line)
			if m == nil {
				break
			}
			n, _ := strconv.Atoi(m[1])
			lit := make([]byte, n)
			if _, err := io.ReadFull(r, lit); err != nil {
				return
			}
			rest, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line += string(lit) + rest
		}
		fields := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
		if len(fields) < 2 {
			continue
		}
		tag, cmd, args := fields[0], strings.ToUpper(fields[1]), ""
		if len(fields) == 3 {
			args = fields[2]
		}
		if s != nil && !s(w, tag, cmd, args) {
			w.Flush()
			return
		}
		if w.Buffered() == 0 {
			switch cmd {
			case "LOGIN", "AUTHENTICATE":
				fmt.Fprintf(w, "%s OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n", tag)
			case "CAPABILITY":
				fmt.Fprintf(w, "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n%s OK done\r\n", tag)
			case "LOGOUT":
				fmt.Fprintf(w, "* BYE\r\n%s OK bye\r\n", tag)
			default:
				fmt.Fprintf(w, "%s BAD unknown command\r\n", tag)
			}
		}
		if w.Flush() != nil {
			return
		}
	}
}

const greetPlain = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hostile ready"

// literalPlus matches a line that ends with a non-synchronizing literal.
var literalPlus = regexp.MustCompile(`\{([0-9]+)\+\}\r?\n$`)

// flood writes filler to w until total bytes are written or the client
// hangs up.
func flood(w *bufio.Writer, total int64) {
	chunk := []byte(strings.Repeat("a", 64<<10))
	for n := int64(0); n < total; n += int64(len(chunk)) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	w.Flush()
}

// peakHeap runs fn while sampling the heap, and returns fn's error and
// the highest HeapAlloc seen above the starting point.
func peakHeap(fn func() error) (error, uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := fn()
	close(done)
	return err, peak.Load()
}

// within fails the test if fn has not returned after d: the client must
// end on its own.
func within(t *testing.T, d time.Duration, fn func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("client still waiting after %s", d)
		return nil
	}
}

// floodBytes is what a hostile server sends at most; an unbounded client
// holds a good part of it.
const floodBytes = 400 << 20

const heapBound = 64 << 20

func TestHostileEndlessListLine(t *testing.T) {
	o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
		if cmd == "LIST" {
			w.WriteString(`* LIST () "/" "`)
			flood(w, floodBytes)
			return false
		}
		return true
	})
	c := dial(t, o)
	err, peak := peakHeap(func() error {
		return within(t, 30*time.Second, func() error { _, _, err := c.ListFolders(context.Background()); return err })
	})
	t.Logf("err = %v; peak heap growth %d MiB", err, peak>>20)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("err = %v, want a line-length error", err)
	}
	if peak > heapBound {
		t.Errorf("heap grew by %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
	}
}

// selectOK answers SELECT for a folder of one message.
func selectOK(w *bufio.Writer, tag string) {
	fmt.Fprintf(w, "* FLAGS (\\Seen)\r\n* 1 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 2] n\r\n%s OK [READ-WRITE] selected\r\n", tag)
}

func TestHostileHugeLiteral(t *testing.T) {
	o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
		switch {
		case cmd == "SELECT":
			selectOK(w, tag)
		case cmd == "UID" && strings.HasPrefix(strings.ToUpper(args), "FETCH"):
			w.WriteString("* 1 FETCH (UID 1 RFC822.SIZE 10 BODY[] {9999999999}\r\n")
			flood(w, floodBytes)
			return false
		}
		return true
	})
	c := dial(t, o)
	if _, err := c.Select(context.Background(), "INBOX", false); err != nil {
		t.Fatal(err)
	}
	err, peak := peakHeap(func() error {
		return within(t, 30*time.Second, func() error {
			return c.FetchBodies(context.Background(), []model.UID{1}, func(imapconn.Message) error { return nil })
		})
	})
	t.Logf("err = %v; peak heap growth %d MiB", err, peak>>20)
	if err == nil || !strings.Contains(err.Error(), "9999999999-byte literal") {
		t.Errorf("err = %v, want a literal-size error", err)
	}
	if peak > heapBound {
		t.Errorf("heap grew by %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
	}
}

func TestHostileFloodBeforeSTARTTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(conn *bufio.Writer)
	}{
		{"endless greeting", func(w *bufio.Writer) {
			w.WriteString("* OK ")
			flood(w, floodBytes)
		}},
		{"endless untagged lines", func(w *bufio.Writer) {
			w.WriteString("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n")
			line := []byte("* OK still talking\r\n")
			for n := 0; n < floodBytes; n += len(line) {
				if _, err := w.Write(line); err != nil {
					return
				}
			}
			w.Flush()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				go func() { bufio.NewReader(conn).WriteTo(devNull{}) }()
				tc.run(bufio.NewWriter(conn))
			}()
			o := imapconn.Options{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "starttls", User: "u", Password: "p", Timeout: 10 * time.Second}
			err, peak := peakHeap(func() error {
				return within(t, 30*time.Second, func() error { _, err := imapconn.Dial(context.Background(), o); return err })
			})
			t.Logf("err = %v; peak heap growth %d MiB", err, peak>>20)
			if err == nil || !strings.Contains(err.Error(), "before TLS was established") {
				t.Errorf("err = %v, want a pre-TLS bound error", err)
			}
			if imapconn.IsRetryable(err) {
				t.Errorf("err = %v is retryable", err)
			}
			if peak > heapBound {
				t.Errorf("heap grew by %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
			}
		})
	}
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// stallUntilCleanup returns a channel closed when the test ends: a
// script blocks on it to stall.
func stallUntilCleanup(t *testing.T) <-chan struct{} {
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })
	return quit
}

func TestHostileStall(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		stall      func(w *bufio.Writer, tag string)
	}{
		// Never answers SELECT.
		{"at select", `select "INBOX"`, func(w *bufio.Writer, tag string) {}},
		// Stops in the middle of a response line.
		{"mid-line", `select "INBOX"`, func(w *bufio.Writer, tag string) {
			w.WriteString("* FLAGS (\\Seen \\Ans")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var quit <-chan struct{}
			o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
				if cmd == "SELECT" {
					tc.stall(w, tag)
					w.Flush()
					<-quit
					return false
				}
				return true
			})
			quit = stallUntilCleanup(t)
			o.Timeout = 300 * time.Millisecond
			c := dial(t, o)
			start := time.Now()
			err := within(t, 10*time.Second, func() error { _, err := c.Select(context.Background(), "INBOX", false); return err })
			t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
			addr := fmt.Sprintf("127.0.0.1:%d", o.Port)
			if err == nil || !strings.Contains(err.Error(), "sent nothing for 300ms") || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), addr) {
				t.Errorf("err = %v, want a timeout naming %s and %s", err, addr, tc.want)
			}
			// The Conn is done: later calls fail at once.
			if _, err := c.Select(context.Background(), "INBOX", false); err == nil {
				t.Error("select after a stall succeeded")
			}
		})
	}
}

func TestHostileStallAtGreeting(t *testing.T) {
	t.Parallel()
	var quit <-chan struct{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quit = stallUntilCleanup(t)
	t.Cleanup(func() { l.Close() })
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		<-quit
		conn.Close()
	}()
	o := imapconn.Options{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "none", User: "u", Password: "p", Timeout: 300 * time.Millisecond}
	err = within(t, 10*time.Second, func() error { _, err := imapconn.Dial(context.Background(), o); return err })
	if err == nil || !strings.Contains(err.Error(), "waiting for the greeting") {
		t.Errorf("err = %v, want a greeting timeout", err)
	}
}

// TestHostileEchoesPassword: whatever a server echoes of the password
// (plain, or as the base64 SASL response) never reaches an error or the
// trace, whether in a NO, a BAD, a BYE or an untagged line.
func TestHostileEchoesPassword(t *testing.T) {
	plainB64 := base64.StdEncoding.EncodeToString([]byte("\x00u\x00" + hostilePassword))
	for _, tc := range []struct {
		name, greeting string
		answer         func(w *bufio.Writer, tag, args string)
	}{
		{"BAD to AUTHENTICATE", greetPlain, func(w *bufio.Writer, tag, args string) {
			fmt.Fprintf(w, "%s BAD bad argument %s (%s)\r\n", tag, args, hostilePassword)
		}},
		{"NO to AUTHENTICATE", greetPlain, func(w *bufio.Writer, tag, args string) {
			fmt.Fprintf(w, "%s NO wrong password %s\r\n", tag, hostilePassword)
		}},
		{"BAD to LOGIN", "* OK [CAPABILITY IMAP4rev1] ready", func(w *bufio.Writer, tag, args string) {
			fmt.Fprintf(w, "%s BAD you said %s\r\n", tag, args)
		}},
		{"BYE to LOGIN", "* OK [CAPABILITY IMAP4rev1] ready", func(w *bufio.Writer, tag, args string) {
			fmt.Fprintf(w, "* BYE go away %s\r\n", args)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := hostile(t, tc.greeting, func(w *bufio.Writer, tag, cmd, args string) bool {
				if cmd == "LOGIN" || cmd == "AUTHENTICATE" {
					tc.answer(w, tag, args)
					return !strings.HasPrefix(tc.name, "BYE") // BYE: hang up
				}
				return true
			})
			var trace syncBuffer
			o.DebugWriter = &trace
			err := within(t, 10*time.Second, func() error { _, err := imapconn.Dial(context.Background(), o); return err })
			if err == nil {
				t.Fatal("dial succeeded")
			}
			for what, text := range map[string]string{"error": err.Error(), "trace": trace.String()} {
				for _, secret := range []string{hostilePassword, plainB64, strings.TrimRight(plainB64, "=")} {
					if strings.Contains(text, secret) {
						t.Errorf("%s holds the secret %q:\n%s", what, secret, text)
					}
				}
			}
			if !strings.HasPrefix(tc.name, "BYE") && !strings.Contains(err.Error(), "<redacted>") {
				t.Errorf("error %q shows no redaction (did the server's text get lost?)", err)
			}
		})
	}
}

// TestHostileEchoAfterLogin: a server text echoing the password in the
// answer to a later command is scrubbed too.
func TestHostileEchoAfterLogin(t *testing.T) {
	o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
		if cmd == "SELECT" {
			fmt.Fprintf(w, "%s BAD no folder for user with password %s\r\n", tag, hostilePassword)
		}
		return true
	})
	c := dial(t, o)
	_, err := c.Select(context.Background(), "INBOX", false)
	if err == nil || strings.Contains(err.Error(), hostilePassword) || !strings.Contains(err.Error(), "<redacted>") {
		t.Errorf("err = %v", err)
	}
}

// TestHostileEndlessLine: an endless line other than LIST (streamed
// through the guard, so only go-imap holds it) is cut at the line bound.
// (A data response: an endless "* OK" line is chatter, which the timeout
// may end first.)
func TestHostileEndlessLine(t *testing.T) {
	o := hostile(t, greetPlain, func(w *bufio.Writer, tag, cmd, args string) bool {
		if cmd == "SELECT" {
			w.WriteString("* CAPABILITY IMAP4rev1 X")
			flood(w, floodBytes)
			return false
		}
		return true
	})
	c := dial(t, o)
	err, peak := peakHeap(func() error {
		return within(t, 30*time.Second, func() error { _, err := c.Select(context.Background(), "INBOX", false); return err })
	})
	t.Logf("err = %v; peak heap growth %d MiB", err, peak>>20)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("err = %v, want a line-length error", err)
	}
	if peak > heapBound {
		t.Errorf("heap grew by %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
	}
}
