package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(context.Background(), append([]string{"mailsync"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageAndConfigErrorsExit2(t *testing.T) {
	cfg := writeConfig(t, "[accounts.a]\nhost = \"h\"\nport = 99999\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/m\"\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--config", cfg, "sync"}, "accounts.a.port: 99999 is not a port number"},
		{[]string{"--config", "/nonexistent/c.toml", "sync"}, "config /nonexistent/c.toml: does not exist"},
		{[]string{"nosuchcommand"}, "nosuchcommand"},
		{[]string{"sync", "--no-such-flag"}, "no-such-flag"},
		{[]string{"serve", "--maildir", "/tmp"}, "--user"},
		{[]string{"serve", "--maildir", "/tmp", "--user", "u", "--listen", "0.0.0.0:1143"}, "no password"},
	}
	t.Setenv("MAILSYNC_SERVE_PASSWORD", "")
	for _, tt := range tests {
		code, _, stderr := run(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
	t.Setenv("MAILSYNC_SERVE_PASSWORD", "pw")
	code, _, stderr := run(t, "serve", "--maildir", "/tmp", "--user", "u", "--listen", "0.0.0.0:1143")
	if code != exitUsage || !strings.Contains(stderr, "without TLS") {
		t.Errorf("non-loopback without TLS: exit %d %q", code, stderr)
	}
}

func TestSyncVerifyStatusAgainstDovecot(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i := 0; i < 3; i++ {
		srv.Save(t, "INBOX", []byte(fmt.Sprintf("Subject: cli %d\nMessage-ID: <cli%d@t>\n\nbody %d\n", i, i, i)))
	}
	dir := t.TempDir()
	t.Setenv("TEST_PW", srv.Password)
	base := fmt.Sprintf("[accounts.t]\nhost = %q\nport = %d\ntls = \"none\"\nuser = %q\nmaildir = %q\nstate = %q\n",
		srv.Host, srv.Port, srv.User, filepath.Join(dir, "Mail"), filepath.Join(dir, "t.db"))
	good := writeConfig(t, base+"password_env = \"TEST_PW\"\n")
	bad := writeConfig(t, base+"password_command = \"echo wrong-secret\"\n")

	code, _, stderr := run(t, "--config", bad, "sync")
	if code != exitFailure || !strings.Contains(stderr, "refused") || strings.Contains(stderr, "wrong-secret") {
		t.Fatalf("wrong password: exit %d, %q", code, stderr)
	}

	code, stdout, stderr := run(t, "--config", good, "--json", "sync")
	if code != exitOK {
		t.Fatalf("sync: exit %d %s", code, stderr)
	}
	var res struct {
		OK       bool
		Accounts []struct{ Downloaded int }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.OK || res.Accounts[0].Downloaded != 3 {
		t.Fatalf("json %q: %v %+v", stdout, err, res)
	}
	// Quiet no-op: nothing on stdout for cron.
	if code, stdout, stderr := run(t, "--config", good, "--quiet", "sync"); code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("quiet no-op: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := run(t, "--config", good, "verify"); code != exitOK || !strings.Contains(stdout, "agree") {
		t.Fatalf("verify: %d %q", code, stdout)
	}
	srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	if code, stdout, _ := run(t, "--config", good, "verify", "--quick"); code != exitFailure || !strings.Contains(stdout, "flags differ") {
		t.Fatalf("verify after a server change: %d %q", code, stdout)
	}
	if code, stdout, _ := run(t, "--config", good, "status"); code != exitOK || !strings.Contains(stdout, "INBOX") {
		t.Fatalf("status: %d %q", code, stdout)
	}
}

// account writes a config for one account "t" on srv and returns its path
// and the Maildir.
func account(t *testing.T, srv *dovecottest.Server, extra string) (cfg, mail string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TEST_PW", srv.Password)
	mail = filepath.Join(dir, "Mail")
	cfg = writeConfig(t, fmt.Sprintf("[accounts.t]\nhost = %q\nport = %d\ntls = \"none\"\nuser = %q\nmaildir = %q\nstate = %q\npassword_env = \"TEST_PW\"\n%s",
		srv.Host, srv.Port, srv.User, mail, filepath.Join(dir, "t.db"), extra))
	return cfg, mail
}

func msg(i int) []byte {
	return []byte(fmt.Sprintf("Subject: m %d\nMessage-ID: <m%d@t>\n\nbody %d\n", i, i, i))
}

// Issue 10: options after the command and after the account names.
func TestOptionsAfterCommandAndAccounts(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i := 0; i < 6; i++ {
		srv.Save(t, "INBOX", msg(i))
	}
	cfg, mail := account(t, srv, "")
	code, stdout, stderr := run(t, "sync", "--config", cfg, "--json")
	if code != exitOK || !json.Valid([]byte(stdout)) || !strings.Contains(stdout, `"downloaded": 6`) {
		t.Fatalf("sync --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Delete every local message: the guard holds the deletion back
	// (exit 3, partial) until --allow-mass-delete, given after the account.
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(mail, sub))
		for _, e := range ents {
			os.Remove(filepath.Join(mail, sub, e.Name()))
		}
	}
	code, stdout, stderr = run(t, "sync", "t", "-c", cfg)
	if code != exitPartial || !strings.Contains(stderr, "--allow-mass-delete") || strings.Count(stderr, "not deleting") != 1 {
		t.Fatalf("guarded sync: exit %d, stdout %q, stderr %q; want exit 3 and the reason once", code, stdout, stderr)
	}
	if code, stdout, stderr = run(t, "verify", "t", "--quick", "--config", cfg); code != exitFailure || !strings.Contains(stdout, "differences") {
		t.Fatalf("verify t --quick: exit %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "sync", "t", "--allow-mass-delete", "--config", cfg)
	if code != exitOK || !strings.Contains(stdout, "deleted 0 local 6 server") {
		t.Fatalf("sync t --allow-mass-delete: exit %d %q %q", code, stdout, stderr)
	}
	if n := len(srv.Messages(t, "INBOX")); n != 0 {
		t.Fatalf("server still has %d messages", n)
	}
	if code, stdout, stderr = run(t, "verify", "t", "--config", cfg, "--quick"); code != exitOK {
		t.Fatalf("verify: exit %d %q %q", code, stdout, stderr)
	}
}

// Issue 10: output for cron and scripts, exit statuses.
func TestCronOutputJSONAndExitStatus(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.CreateMailbox(t, "Work")
	for i := 0; i < 2; i++ {
		srv.Save(t, "INBOX", msg(i))
		srv.Save(t, "Work", msg(10+i))
	}
	cfg, mail := account(t, srv, "")

	// A failed login: exit 1, the reason once, in --json too, and
	// neither the Maildir nor the state file is created.
	t.Setenv("TEST_PW", "wrong")
	code, stdout, stderr := run(t, "sync", "--config", cfg)
	if code != exitFailure || strings.Count(stderr, "mailsync:") != 1 || stdout != "" {
		t.Fatalf("wrong password: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "sync", "--config", cfg, "--json")
	var failed struct {
		OK       bool
		Error    string
		Accounts []struct{ Error string }
	}
	if err := json.Unmarshal([]byte(stdout), &failed); err != nil || code != exitFailure || failed.OK || failed.Error == "" || failed.Accounts[0].Error == "" {
		t.Fatalf("failed --json: exit %d %q (%v)", code, stdout, err)
	}
	code, stdout, _ = run(t, "verify", "--config", cfg, "--json")
	if err := json.Unmarshal([]byte(stdout), &failed); err != nil || code != exitFailure || failed.OK || !strings.Contains(failed.Error, "verify t") {
		t.Fatalf("failed verify --json: exit %d %q (%v)", code, stdout, err)
	}
	for _, p := range []string{mail, filepath.Join(filepath.Dir(mail), "t.db")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("a failed login left %s behind (%v)", p, err)
		}
	}
	t.Setenv("TEST_PW", srv.Password)

	// A password command that fails is a config error: exit 2, said once.
	badpw := writeConfig(t, strings.Replace(string(must(os.ReadFile(cfg))), `password_env = "TEST_PW"`, `password_command = "echo no such secret >&2; exit 1"`, 1))
	if code, stdout, stderr := run(t, "sync", "--config", badpw); code != exitUsage || stdout != "" || strings.Count(stderr, "password_command") != 1 {
		t.Fatalf("failing password command: exit %d, %q %q", code, stdout, stderr)
	}

	// Changes without a terminal: one line, on stdout.
	code, stdout, stderr = run(t, "sync", "--config", cfg)
	if code != exitOK || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, "4 downloaded") || stderr != "" {
		t.Fatalf("first sync: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A no-op prints nothing.
	if code, stdout, stderr = run(t, "sync", "--config", cfg); code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("no-op: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// -v: a line per changed folder, then the account's line.
	srv.Save(t, "Work", msg(20))
	code, stdout, stderr = run(t, "sync", "--config", cfg, "-v")
	if code != exitOK || !strings.Contains(stdout, "t: Work: 1 downloaded") || strings.Contains(stdout, "INBOX") {
		t.Fatalf("-v: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// --json: per-folder counts, bytes and duration.
	srv.Save(t, "INBOX", msg(30))
	code, stdout, _ = run(t, "sync", "--config", cfg, "--json")
	var res struct {
		OK       bool
		Exit     int `json:"exit_status"`
		Accounts []struct {
			Downloaded    int
			FolderResults []folderResult `json:"folder_results"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitOK || !res.OK {
		t.Fatalf("--json: exit %d %q (%v)", code, stdout, err)
	}
	var inbox *folderResult
	for i, f := range res.Accounts[0].FolderResults {
		if f.Folder == "INBOX" {
			inbox = &res.Accounts[0].FolderResults[i]
		}
	}
	if inbox == nil || inbox.Downloaded != 1 || inbox.BytesDown == 0 || !inbox.OK || len(res.Accounts[0].FolderResults) != 2 {
		t.Fatalf("--json folder results: %s", stdout)
	}

	// Interrupted: 130.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if code := runMain(ctx, []string{"mailsync", "sync", "--config", cfg}, &out, &errb); code != exitInterrupted {
		t.Fatalf("interrupted: exit %d, %q %q", code, out.String(), errb.String())
	}
}

// Issue 10: a folder that fails while the others sync is a partial run
// (exit 3), its error is printed once (also with -v) and is in --json.
func TestFolderFailureIsPartialAndPrintedOnce(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.Save(t, "INBOX", msg(1))
	srv.CreateMailbox(t, "Work")
	srv.Save(t, "Work", msg(2))
	cfg, _ := account(t, srv, "")
	// Dovecot runs as an unprivileged user: it cannot open this folder.
	broken := filepath.Join(srv.Dir, "mail", srv.User, ".Work", "cur")
	if err := os.Chmod(broken, 0); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "sync", "--config", cfg, "-v")
	if code != exitPartial || strings.Count(stderr, "Internal error") != 1 || !strings.Contains(stderr, `folder "Work"`) ||
		!strings.Contains(stdout, "t: INBOX: 1 downloaded") || !strings.Contains(stdout, "t: Work: failed") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 3, the error once", code, stdout, stderr)
	}
	os.Chmod(broken, 0o700)
	srv.Save(t, "INBOX", msg(3))
	os.Chmod(broken, 0)
	code, stdout, _ = run(t, "sync", "--config", cfg, "--json")
	var res struct {
		OK       bool
		Exit     int `json:"exit_status"`
		Error    string
		Accounts []struct {
			Partial       bool
			FolderResults []folderResult `json:"folder_results"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitPartial || res.OK || res.Exit != exitPartial ||
		!strings.Contains(res.Error, "1 of 2 folders failed") || !res.Accounts[0].Partial {
		t.Fatalf("--json: exit %d %q (%v)", code, stdout, err)
	}
	for _, f := range res.Accounts[0].FolderResults {
		if f.Folder == "Work" && (f.OK || !strings.Contains(f.Error, "Internal error")) || f.Folder == "INBOX" && (!f.OK || f.Downloaded != 1) {
			t.Fatalf("--json folder %+v", f)
		}
	}
	os.Chmod(broken, 0o700)

	// status: per folder the messages on each side at the last sync, its
	// time and result, the last error, CONDSTORE.
	code, stdout, stderr = run(t, "status", "--config", cfg)
	lines := strings.Split(stdout, "\n")
	if code != exitOK || len(lines) < 4 || !strings.Contains(lines[1], "last sync") || !strings.Contains(lines[1], "failed: 1 of 2 folders failed") {
		t.Fatalf("status: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, l := range lines[2:4] {
		inbox := strings.Contains(l, "INBOX") && strings.Contains(l, "server 2, Maildir 2") && strings.Contains(l, " CONDSTORE") && strings.HasSuffix(l, " ok")
		work := strings.Contains(l, "Work") && strings.Contains(l, "FAILED: select") && strings.Contains(l, "Internal error")
		if !inbox && !work {
			t.Fatalf("status line %q", l)
		}
	}
	code, stdout, _ = run(t, "status", "--json", "--config", cfg)
	var st []struct {
		LastOK  *bool `json:"last_ok"`
		Folders []struct {
			Folder         string
			ServerMessages *int   `json:"server_messages"`
			LastError      string `json:"last_error"`
			CondStore      bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != 0 || *st[0].LastOK || len(st[0].Folders) != 2 {
		t.Fatalf("status --json: %d %q %v", code, stdout, err)
	}
}

// Issue 10: folders = [...] (last match wins, * and %), exclude also
// excludes subfolders, a pattern that matches nothing is reported, and
// --folder syncs only the named folders.
func TestFolderSelection(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	for i, f := range []string{"INBOX", "Trash", "Archive", "Archive/2002", "Lists", "Lists/go", "Lists/go/nuts", "Old", "Old/2001", "A, B"} {
		if f != "INBOX" {
			srv.CreateMailbox(t, f)
		}
		srv.Save(t, f, msg(i))
	}
	synced := func(mail string) []string {
		var out []string
		ents, _ := os.ReadDir(mail)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && e.IsDir() {
				out = append(out, e.Name())
			}
		}
		return out
	}
	cfg, mail := account(t, srv, `folders = ["*", "!Trash", "!Archive/*", "!Lists/%", "!Nothing*"]`+"\nexclude = [\"Old\"]\n")
	code, stdout, stderr := run(t, "sync", "--config", cfg)
	if code != exitOK || strings.Count(stderr, "matches no folder") != 1 || !strings.Contains(stderr, `"!Nothing*"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the unmatched pattern reported", code, stdout, stderr)
	}
	if got, want := strings.Join(synced(mail), " "), ".A, B .Archive .Lists .Lists.go.nuts"; got != want {
		t.Fatalf("synced folders %q, want %q", got, want)
	}

	cfg, mail = account(t, srv, "exclude = [\"Archive\", \"Lists/go\"]\n")
	if code, stdout, stderr := run(t, "sync", "--config", cfg); code != exitOK || stderr != "" {
		t.Fatalf("exclude: exit %d, %q %q", code, stdout, stderr)
	}
	if got, want := strings.Join(synced(mail), " "), ".A, B .Lists .Old .Old.2001 .Trash"; got != want {
		t.Fatalf("exclude: synced folders %q, want %q", got, want)
	}

	cfg, mail = account(t, srv, "exclude = [\"Trash\"]\n")
	code, stdout, stderr = run(t, "sync", "t", "--folder", "Trash", "--config", cfg, "--folder", "Lists/go", "--json", "--folder", "A, B")
	if code != exitOK || !strings.Contains(stdout, `"downloaded": 3`) {
		t.Fatalf("--folder: exit %d, %q %q", code, stdout, stderr)
	}
	if got, want := strings.Join(synced(mail), " "), ".A, B .Lists.go .Trash"; got != want {
		t.Fatalf("--folder: synced folders %q, want %q", got, want)
	}
	if n := len(srv.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("INBOX on the server: %d messages", n)
	}

	bad := writeConfig(t, "[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/m\"\nexclude = [\"*\", \"!INBOX\"]\n")
	if code, _, stderr := run(t, "sync", "--config", bad); code != exitUsage || !strings.Contains(stderr, "folders") {
		t.Fatalf("exclude = [*, !INBOX]: exit %d %q", code, stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMain lets a test run this test binary as the mailsync command
// (MAILSYNC_RUN_MAIN=1), to send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("MAILSYNC_RUN_MAIN") == "1" {
		os.Args = append([]string{"mailsync"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// Issue 10: Ctrl-C (SIGINT) during a sync exits 130, not 1.
func TestInterruptExits130(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	srv.Save(t, "INBOX", msg(1))
	proxy := dovecottest.NewProxy(t, srv.Addr)
	cfg, _ := account(t, srv, "")
	cfg = writeConfig(t, strings.Replace(string(must(os.ReadFile(cfg))), fmt.Sprintf("port = %d", srv.Port), fmt.Sprintf("port = %d", proxy.Port), 1))
	proxy.Hold(true) // the server's answers stop: the sync waits
	cmd := exec.Command(os.Args[0], "sync", "--config", cfg)
	cmd.Env = append(os.Environ(), "MAILSYNC_RUN_MAIN=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	proxy.Hold(false)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after SIGINT: %v, stderr %q; want exit 130", err, errb.String())
	}
	if got := errb.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "interrupted") {
		t.Fatalf("after SIGINT, stderr %q: want one line saying it was interrupted", got)
	}
}
