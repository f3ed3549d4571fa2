package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// barBytes is progressbar's byte format (SI units, one decimal under
// 10), to find the bar's total in what it drew.
func barBytes(n int64) string {
	s := float64(n)
	if s < 10 {
		return fmt.Sprintf("%2.0f B", s)
	}
	sizes := []string{" B", " kB", " MB", " GB"}
	e := math.Floor(math.Log(s) / math.Log(1000))
	val := math.Floor(s/math.Pow(1000, e)*10+0.5) / 10
	f := "%.0f"
	if val < 10 {
		f = "%.1f"
	}
	return fmt.Sprintf(f, val) + sizes[int(e)]
}

// TestMigrateProgressBarOnATerminal (issue 10: "the progress bar's byte
// total was a fifth of the real one"): the binary runs under script(1),
// so that its stderr is a terminal and it draws the bar; the total the bar
// shows is the sum of the messages' sizes, and the message count is
// right.
func TestMigrateProgressBarOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("script(1) (util-linux) is needed to run under a terminal")
		}
		t.Skip("no script(1) to run under a terminal")
	}
	from := dovecottest.Start(t, nil)
	to := dovecottest.Start(t, nil)
	from.CreateMailbox(t, "Archive")
	var total int64
	for i := 0; i < 12; i++ {
		folder := "INBOX"
		if i%3 == 0 {
			folder = "Archive"
		}
		body := fmt.Sprintf("Subject: big %d\nMessage-ID: <big%d@t>\n\n%s\n", i, i, strings.Repeat(fmt.Sprintf("line %d of a long message\n", i), 300*(i+1)))
		from.Save(t, folder, []byte(body))
	}
	for _, f := range []string{"INBOX", "Archive"} {
		for _, m := range from.Messages(t, f) {
			total += int64(len(m.Body)) // RFC822.SIZE: the CRLF form
		}
	}
	bin := filepath.Join(t.TempDir(), "mailsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Setenv("TEST_PW", from.Password)
	acct := func(name string, s *dovecottest.Server) string {
		return fmt.Sprintf("[accounts.%s]\nhost = %q\nport = %d\ntls = \"none\"\nuser = %q\npassword_env = \"TEST_PW\"\nmaildir = %q\n",
			name, s.Host, s.Port, s.User, t.TempDir())
	}
	cfg := writeConfig(t, acct("old", from)+acct("new", to))
	typescript := filepath.Join(t.TempDir(), "typescript")
	cmd := exec.Command(script, "-q", "-e", "-c", fmt.Sprintf("%s migrate --config %s old new", bin, cfg), typescript)
	cmd.Env = append(os.Environ(), "COLUMNS=200", "LINES=50", "TERM=xterm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("migrate under script: %v\n%q", err, out)
	}
	drawn := string(out)
	t.Logf("total %d bytes (%s); drawn: %q", total, barBytes(total), drawn)
	// The bar is throttled: it draws at the start and now and then, so
	// look at every total it drew ("(172/616 kB, 1.1 MB/s)", "( 0 B/616 kB)").
	totals := regexp.MustCompile(`\([^/()]+/([^,()]+)[,)]`).FindAllStringSubmatch(drawn, -1)
	if len(totals) == 0 {
		t.Fatal("no progress bar was drawn")
	}
	for _, m := range totals {
		if m[1] != barBytes(total) {
			t.Errorf("the bar drew a total of %s, want %s (%d bytes)", m[1], barBytes(total), total)
		}
	}
	for _, m := range regexp.MustCompile(`(\d+)/(\d+) msgs`).FindAllStringSubmatch(drawn, -1) {
		if m[2] != "12" {
			t.Errorf("the bar counted %s messages, want 12", m[2])
		}
	}
	if !strings.Contains(drawn, "12 messages (") {
		t.Errorf("summary: %q", drawn)
	}
}
