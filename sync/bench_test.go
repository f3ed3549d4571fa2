package sync

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// BenchmarkVsMbsync compares mailsync with mbsync (isync) on the same
// Dovecot in one run: an initial download of a mailbox, then a no-op
// resync. It reports both times and their ratio (mbsync/mailsync: above 1
// means mailsync is faster), never an absolute goal: the machine is
// shared. Run it with
//
//	go test ./sync -run '^$' -bench VsMbsync -benchtime 3x
//
// MAILSYNC_BENCH_MSGS sets the number of messages (default 3000, in 3
// folders, 2-40 KiB each).
func BenchmarkVsMbsync(b *testing.B) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		b.Skip("mbsync not installed (apt-get install isync)")
	}
	n := 3000
	if v := os.Getenv("MAILSYNC_BENCH_MSGS"); v != "" {
		fmt.Sscan(v, &n)
	}
	srv := dovecottest.Start(b, nil)
	seedBench(b, srv, n)

	for _, mode := range []string{"initial", "noop"} {
		b.Run(mode, func(b *testing.B) {
			var ours, theirs time.Duration
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				acct := Account{Name: "bench",
					IMAP:      imapconn.Options{Host: srv.Host, Port: srv.Port, TLS: "none", User: srv.User, Password: srv.Password, DialTimeout: 10 * time.Second},
					Maildir:   filepath.Join(dir, "mailsync"),
					StatePath: filepath.Join(dir, "state.db"),
				}
				conf := writeMbsyncConf(b, srv, dir)
				if mode == "noop" {
					runOurs(b, acct)
					runMbsync(b, mbsync, conf, dir)
				}
				ours += runOurs(b, acct)
				theirs += runMbsync(b, mbsync, conf, dir)
			}
			b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "mailsync-ms/op")
			b.ReportMetric(float64(theirs.Milliseconds())/float64(b.N), "mbsync-ms/op")
			b.ReportMetric(float64(theirs)/float64(ours), "mbsync/mailsync")
		})
	}
}

func seedBench(b *testing.B, srv *dovecottest.Server, n int) {
	b.Helper()
	ctx := context.Background()
	c, err := imapconn.Dial(ctx, imapconn.Options{Host: srv.Host, Port: srv.Port, TLS: "none", User: srv.User, Password: srv.Password})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	folders := []string{"INBOX", "Archive", "Lists/golang"}
	for _, f := range folders[1:] {
		if err := c.CreateFolder(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	for fi, f := range folders {
		var reqs []imapconn.AppendReq
		for i := fi; i < n; i += len(folders) {
			body := fmt.Sprintf("From: bench@example.org\nSubject: message %d\nMessage-ID: <%d@bench>\n\n%s\n", i, i, strings.Repeat("lorem ipsum dolor sit amet ", 80+(i*37)%1500))
			reqs = append(reqs, imapconn.AppendReq{Flags: model.Flags(i % 4), Body: model.ToCRLF([]byte(body))})
		}
		if err := c.AppendBatch(ctx, f, reqs, func(int, imapconn.AppendResult) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func writeMbsyncConf(b *testing.B, srv *dovecottest.Server, dir string) string {
	b.Helper()
	local := filepath.Join(dir, "mbsync")
	if err := os.MkdirAll(local, 0o700); err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(dir, "mbsyncrc")
	text := fmt.Sprintf(`IMAPAccount bench
Host %s
Port %d
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Inbox %s
SubFolders Maildir++

Channel both
Far :remote:
Near :local:
Patterns *
Create Both
Sync All
SyncState *
`, srv.Host, srv.Port, srv.User, srv.Password, local)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	return conf
}

func runOurs(b *testing.B, acct Account) time.Duration {
	b.Helper()
	start := time.Now()
	if _, err := Run(context.Background(), acct, Options{}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func runMbsync(b *testing.B, mbsync, conf, dir string) time.Duration {
	b.Helper()
	cmd := exec.Command(mbsync, "-c", conf, "-a")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("mbsync: %v\n%s", err, out)
	}
	return time.Since(start)
}
