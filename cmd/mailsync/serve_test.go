package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// lockedBuffer is a bytes.Buffer written by the command's goroutine and
// read by the test.
type lockedBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveAndCreate runs mailsync serve with args, logs in and tries to
// create a folder; it returns the CREATE's error.
func serveAndCreate(t *testing.T, args ...string) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int)
	go func() {
		done <- runMain(ctx, append([]string{"mailsync", "serve", "--listen", addr}, args...), &out, &errb)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var c *imapclient.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = imapclient.DialInsecure(addr, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %v; stderr %q", err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	if err := c.Login("me", "pw").Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c.Create(fmt.Sprintf("F%d", time.Now().UnixNano()), nil).Wait()
}

// Issue 10: flags win over the config's [serve] section, also
// --read-only=false over read_only = true.
func TestServeReadOnlyFlagWinsOverConfig(t *testing.T) {
	dir := t.TempDir()
	mail := filepath.Join(dir, "Mail")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(mail, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MAILSYNC_SERVE_PASSWORD", "pw")
	cfg := writeConfig(t, fmt.Sprintf("[serve]\nmaildir = %q\nuser = \"me\"\nread_only = true\n", mail))
	if err := serveAndCreate(t, "--config", cfg); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read_only = true: CREATE gave %v, want a read-only refusal", err)
	}
	if err := serveAndCreate(t, "--config", cfg, "--read-only=false"); err != nil {
		t.Fatalf("--read-only=false over read_only = true: CREATE gave %v", err)
	}
	cfg = writeConfig(t, fmt.Sprintf("[serve]\nmaildir = %q\nuser = \"me\"\n", mail))
	if err := serveAndCreate(t, "--read-only", "--config", cfg); err == nil {
		t.Fatalf("--read-only: CREATE succeeded")
	}
}
