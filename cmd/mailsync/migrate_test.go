package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

func TestMigrateCommand(t *testing.T) {
	from := dovecottest.Start(t, nil)
	to := dovecottest.Start(t, &dovecottest.Options{Separator: ".", SpecialUse: map[string]string{"Sent Items": `\Sent`}})
	to.CreateMailbox(t, "Sent Items")
	from.CreateMailbox(t, "Sent")
	c := from.Client(t)
	for i, f := range []string{"INBOX", "INBOX", "Sent"} {
		body := []byte(fmt.Sprintf("Subject: m%d\r\nMessage-ID: <%d@x>\r\n\r\nhello %d\r\n", i, i, i))
		cmd := c.Append(f, int64(len(body)), &imap.AppendOptions{Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Flags: []imap.Flag{`\Seen`, "$Work"}})
		cmd.Write(body)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	t.Setenv("TEST_PW", from.Password)
	acct := func(name string, s *dovecottest.Server) string {
		return fmt.Sprintf("[accounts.%s]\nhost = %q\nport = %d\ntls = \"none\"\nuser = %q\npassword_env = \"TEST_PW\"\nmaildir = %q\n",
			name, s.Host, s.Port, s.User, t.TempDir())
	}
	if from.Password != to.Password {
		t.Fatalf("the test assumes one password for both servers")
	}
	cfg := writeConfig(t, acct("old", from)+acct("new", to))

	code, stdout, stderr := run(t, "migrate", "--config", cfg, "--dry-run", "old", "new")
	if code != exitOK || !strings.Contains(stdout, "Sent → Sent Items: 1 messages, 0 already there, 1 to copy") || !strings.Contains(stdout, "3 messages") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := len(to.Messages(t, "INBOX")) + len(to.Messages(t, "Sent Items")); n != 0 {
		t.Fatalf("dry run copied %d messages", n)
	}
	code, stdout, stderr = run(t, "migrate", "--config", cfg, "old", "new")
	if code != exitOK || !strings.Contains(stdout, "3 messages (") {
		t.Fatalf("migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "migrate", "--config", cfg, "--json", "old", "new")
	var out struct {
		OK     bool
		Report struct {
			Copied  int `json:"copied"`
			Present int `json:"already_present"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &out); code != exitOK || err != nil || !out.OK || out.Report.Copied != 0 || out.Report.Present != 3 {
		t.Fatalf("rerun --json: exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	// A folder TO cannot take fails alone: exit 3, named.
	code, _, stderr = run(t, "migrate", "--config", cfg, "--map", "INBOX=Old/v1.2", "old", "new")
	if code != exitPartial || !strings.Contains(stderr, `"Old/v1.2"`) || !strings.Contains(stderr, "1 folders failed") {
		t.Fatalf("partial: exit %d, want 3\n%s", code, stderr)
	}
	// folder_map on FROM's account.
	cfg2 := writeConfig(t, acct("old", from)+"folder_map = { \"INBOX\" = \"Old/Inbox\" }\n"+acct("new", to))
	if code, stdout, stderr = run(t, "migrate", "--config", cfg2, "old", "new"); code != exitOK || len(to.Messages(t, "Old/Inbox")) != 2 {
		t.Fatalf("folder_map: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{{"old"}, {"old", "old"}, {"--map", "x", "old", "new"}} {
		code, _, stderr = run(t, append([]string{"migrate", "--config", cfg}, args...)...)
		if code != exitUsage {
			t.Errorf("migrate %v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}
