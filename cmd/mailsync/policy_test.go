package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

func removeLocal(t *testing.T, mail string) {
	t.Helper()
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(mail, sub))
		for _, e := range ents {
			if err := os.Remove(filepath.Join(mail, sub, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func localFiles(t *testing.T, mail string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(mail, sub))
		n += len(ents)
	}
	return n
}

// Issue 10: a nightly backup from the config alone (direction = "pull",
// deletions = "keep") survives a mailbox wiped by another client; the
// guard's message offers --restore, which downloads a local folder
// emptied by mistake again; --direction and --deletions on the command
// line win over the config.
func TestBackupConfigAndRestoreFlag(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i := 0; i < 6; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	backup, bmail := account(t, srv, "direction = \"pull\"\ndeletions = \"keep\"\n")
	if code, _, stderr := run(t, "sync", "--config", backup); code != exitOK || localFiles(t, bmail) != 6 {
		t.Fatalf("backup: exit %d %q, %d files", code, stderr, localFiles(t, bmail))
	}
	for _, m := range srv.Messages(t, "INBOX") {
		srv.Expunge(t, "INBOX", m.UID)
	}
	if code, stdout, stderr := run(t, "sync", "--config", backup); code != exitOK || localFiles(t, bmail) != 6 || len(srv.Messages(t, "INBOX")) != 0 {
		t.Fatalf("backup after the wipe: exit %d %q %q, %d files, %d on the server", code, stdout, stderr, localFiles(t, bmail), len(srv.Messages(t, "INBOX")))
	}
	// status counts the Maildir's messages, not the pairs (a backup's
	// Maildir holds what the server no longer has).
	if code, stdout, stderr := run(t, "status", "--config", backup); code != exitOK || !strings.Contains(stdout, "server 0, Maildir 6") {
		t.Fatalf("status of the backup: exit %d %q %q", code, stdout, stderr)
	}

	// Two-way account: a local folder emptied by mistake.
	for i := 10; i < 16; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	cfg, mail := account(t, srv, "")
	if code, _, stderr := run(t, "sync", "--config", cfg); code != exitOK {
		t.Fatalf("sync: %d %q", code, stderr)
	}
	removeLocal(t, mail)
	code, _, stderr := run(t, "sync", "--config", cfg)
	if code != exitPartial || !strings.Contains(stderr, "--restore") || !strings.Contains(stderr, "--allow-mass-delete") {
		t.Fatalf("guard: exit %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "sync", "--config", cfg, "--restore", "--allow-mass-delete"); code != exitUsage {
		t.Fatalf("--restore with --allow-mass-delete: exit %d %q", code, stderr)
	}
	// --direction push on the command line: nothing comes down.
	if code, _, stderr := run(t, "sync", "t", "--direction", "push", "--deletions", "keep", "--config", cfg); code != exitOK || localFiles(t, mail) != 0 || len(srv.Messages(t, "INBOX")) != 6 {
		t.Fatalf("push keep: exit %d %q, %d files", code, stderr, localFiles(t, mail))
	}
	if code, _, stderr := run(t, "sync", "--direction", "sideways", "--config", cfg); code != exitUsage || !strings.Contains(stderr, "sideways") {
		t.Fatalf("bad direction: exit %d %q", code, stderr)
	}
}

// Issue 10: --restore after the guard, from the command line.
func TestRestoreFlag(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i := 0; i < 6; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	cfg, mail := account(t, srv, "")
	run(t, "sync", "--config", cfg)
	removeLocal(t, mail)
	if code, _, _ := run(t, "sync", "--config", cfg); code != exitPartial {
		t.Fatalf("guard: exit %d", code)
	}
	code, stdout, stderr := run(t, "sync", "t", "--restore", "--config", cfg)
	if code != exitOK || !strings.Contains(stdout, "6 downloaded") || localFiles(t, mail) != 6 || len(srv.Messages(t, "INBOX")) != 6 {
		t.Fatalf("--restore: exit %d %q %q, %d files", code, stdout, stderr, localFiles(t, mail))
	}
	if code, stdout, _ := run(t, "verify", "--config", cfg); code != exitOK {
		t.Fatalf("verify after --restore: %d %q", code, stdout)
	}
}

// Issue 10: --dry-run prints the plan per folder (each message with -v)
// and --json, and writes nothing: no state file, no Maildir, and the
// server untouched.
func TestDryRunFlag(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.CreateMailbox(t, "Work")
	for i := 0; i < 3; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	srv.Save(t, "Work", msg(9))
	cfg, mail := account(t, srv, "")
	next := srv.UIDNext(t, "INBOX")
	code, stdout, stderr := run(t, "sync", "--dry-run", "-v", "--config", cfg)
	if code != exitOK || !strings.Contains(stdout, "t: INBOX: 3 to download") || !strings.Contains(stdout, "t: Work: 1 to download") ||
		strings.Count(stdout, "  download UID") != 4 || !strings.Contains(stdout, "nothing was changed") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, p := range []string{mail, filepath.Join(filepath.Dir(mail), "t.db")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("the dry run created %s (%v)", p, err)
		}
	}
	if srv.UIDNext(t, "INBOX") != next {
		t.Fatal("the dry run changed the server")
	}
	code, stdout, _ = run(t, "sync", "-n", "--json", "--config", cfg)
	var res struct {
		OK       bool
		Accounts []struct {
			DryRun     bool `json:"dry_run"`
			Downloaded int
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitOK || !res.Accounts[0].DryRun || res.Accounts[0].Downloaded != 4 {
		t.Fatalf("dry run --json: exit %d %q %v", code, stdout, err)
	}
	if code, _, stderr := run(t, "sync", "--dry-run", "--watch", "--config", cfg); code != exitUsage {
		t.Fatalf("--dry-run --watch: exit %d %q", code, stderr)
	}
}

// Issue 10: a connection cut in the middle of a run (the fault proxy
// closes it after the first message body of the second folder) is
// retried: the run ends with exit 0 and everything synced.
func TestRetriedAfterConnectionCut(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.CreateMailbox(t, "Work")
	for i := 0; i < 5; i++ {
		srv.Save(t, "INBOX", msg(i))
		srv.Save(t, "Work", msg(100+i))
	}
	proxy := dovecottest.NewProxy(t, srv.Addr)
	cfg, mail := account(t, srv, "connections = 1\n")
	cfgText := strings.Replace(string(must(os.ReadFile(cfg))), fmt.Sprintf("port = %d\n", srv.Port), fmt.Sprintf("port = %d\n", proxy.Port), 1)
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy.CutAfter([]byte("body 102"))
	code, stdout, stderr := run(t, "sync", "--json", "--config", cfg)
	if code != exitOK || proxy.Cuts() != 1 {
		t.Fatalf("exit %d, %d cuts\n%s\n%s", code, proxy.Cuts(), stdout, stderr)
	}
	if n := localFiles(t, mail) + localFiles(t, filepath.Join(mail, ".Work")); n != 10 {
		t.Fatalf("%d local files, want 10", n)
	}
	if code, stdout, _ := run(t, "verify", "--config", cfg); code != exitOK {
		t.Fatalf("verify: %d %q", code, stdout)
	}
}
