package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/statedb"
)

// hasMail reports whether a file under dir (new/ or cur/ of the INBOX)
// contains needle.
func hasMail(dir, needle string) bool {
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err == nil && bytes.Contains(data, []byte(needle)) {
				return true
			}
		}
	}
	return false
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); time.Since(start) < limit; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %s", what, limit)
}

// Issue 12: sync --watch follows the server, survives SIGHUP (config
// reloaded) and ends with status 0 within 2 s of SIGTERM.
func TestWatchCommandSignals(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.Save(t, "INBOX", []byte("Subject: first\nMessage-ID: <w1@t>\n\nfirst\n"))
	cfg, mail := account(t, srv, "[accounts.t.watch]\npoll_interval = \"5s\"\n")
	cmd := exec.Command(os.Args[0], "sync", "--watch", "--config", cfg)
	cmd.Env = append(os.Environ(), "MAILSYNC_RUN_MAIN=1")
	var errb, outb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errb, &outb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, 10*time.Second, "initial pass", func() bool { return hasMail(mail, "first") })
	srv.Save(t, "INBOX", []byte("Subject: second\nMessage-ID: <w2@t>\n\nsecond\n"))
	waitFor(t, 5*time.Second, "message pushed while watching", func() bool { return hasMail(mail, "second") })
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	srv.Save(t, "INBOX", []byte("Subject: third\nMessage-ID: <w3@t>\n\nthird\n"))
	waitFor(t, 10*time.Second, "message after SIGHUP", func() bool { return hasMail(mail, "third") })
	time.Sleep(1500 * time.Millisecond) // let the confirming pass start or finish
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v; stderr %q", err, errb.String())
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("still running 2 s after SIGTERM; stderr %q", errb.String())
	}
	t.Logf("exited %s after SIGTERM; stdout %q stderr %q", time.Since(start), outb.String(), errb.String())
}

// Issue 12: a one-shot sync waits (up to 30 s) for a state file another
// mailsync holds, instead of failing at once.
func TestSyncWaitsForStateLock(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.Save(t, "INBOX", []byte("Subject: locked\nMessage-ID: <l1@t>\n\nlocked\n"))
	cfg, mail := account(t, srv, "")
	state := filepath.Join(filepath.Dir(mail), "t.db")
	db, err := statedb.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(1500*time.Millisecond, func() { db.Close() })
	var out, errb bytes.Buffer
	start := time.Now()
	code := runMain(context.Background(), []string{"mailsync", "sync", "--config", cfg}, &out, &errb)
	if code != exitOK || !hasMail(mail, "locked") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if d := time.Since(start); d < time.Second || strings.Contains(errb.String(), "in use") {
		t.Fatalf("did not wait for the lock: %s, stderr %q", d, errb.String())
	}
}
