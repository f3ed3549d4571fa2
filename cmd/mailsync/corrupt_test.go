package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// A damaged state file makes sync, verify and status say which file and
// what to do, with no stack trace, and changes nothing; moving the file
// away lets the next sync rebuild the state by content (issue 8, case 12).
func TestDamagedStateFile(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i := 0; i < 3; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	cfg, mail := account(t, srv, "")
	if code, _, stderr := run(t, "--config", cfg, "sync"); code != exitOK {
		t.Fatalf("first sync: exit %d %s", code, stderr)
	}
	state := filepath.Join(filepath.Dir(mail), "t.db")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, b[:len(b)/2+1000], 0o600); err != nil { // truncated, as by an interrupted copy
		t.Fatal(err)
	}
	files := func() int {
		n := 0
		filepath.Walk(mail, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && (strings.Contains(p, "/cur/") || strings.Contains(p, "/new/")) {
				n++
			}
			return nil
		})
		return n
	}
	before := files()
	for _, cmd := range [][]string{{"sync"}, {"verify"}, {"status"}} {
		code, _, stderr := run(t, append([]string{"--config", cfg}, cmd...)...)
		if code == exitOK || strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("%v on a damaged state: exit %d, stderr %q", cmd, code, stderr)
		}
		if !strings.Contains(stderr, state) || !strings.Contains(stderr, "move it away") {
			t.Errorf("%v: %q does not name the state file and what to do", cmd, stderr)
		}
	}
	if got := files(); got != before || len(srv.Messages(t, "INBOX")) != 3 {
		t.Fatalf("the damaged state changed the mail: %d local files (was %d), %d on the server", got, before, len(srv.Messages(t, "INBOX")))
	}
	if err := os.Rename(state, state+".damaged"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "--config", cfg, "sync"); code != exitOK {
		t.Fatalf("sync after moving the state away: exit %d %s", code, stderr)
	}
	if got := files(); got != 3 || len(srv.Messages(t, "INBOX")) != 3 {
		t.Fatalf("after rebuilding the state: %d local, %d on the server; want 3 and 3", got, len(srv.Messages(t, "INBOX")))
	}
}
