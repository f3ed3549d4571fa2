package sync

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// imap4dAccount is an account on GNU Mailutils' imap4d: no UIDPLUS, no
// CONDSTORE, and a PERMANENTFLAGS without $Forwarded or \*.
func imap4dAccount(t *testing.T) (Account, *maildir.Maildir) {
	t.Helper()
	srv := imap4dtest.Start(t)
	dir := t.TempDir()
	acct := Account{
		Name: "imap4d",
		IMAP: imapconn.Options{Host: srv.Host, Port: srv.Port, TLS: "none", User: srv.User, Password: srv.Password,
			DialTimeout: 10 * time.Second},
		Maildir:     filepath.Join(dir, "Mail"),
		StatePath:   filepath.Join(dir, "state", "test.db"),
		Connections: 1,
	}
	md, err := maildir.Open(acct.Maildir)
	if err != nil {
		t.Fatal(err)
	}
	return acct, md
}

// Case 10: a flag the server cannot keep ($Forwarded on imap4d, which
// answers BAD to a STORE or APPEND carrying it) stays local, blocks
// nothing, and is reported.
func TestUnkeptFlagStaysLocal(t *testing.T) {
	acct, md := imap4dAccount(t)
	f, err := md.CreateFolder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	fwdNew, err := f.DeliverSync(testMsg("forwarded before the first sync"), model.FlagPassed|model.FlagSeen, date)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := f.DeliverSync(testMsg("forwarded later"), 0, date)
	if err != nil {
		t.Fatal(err)
	}
	runOK := func(what string) *Summary {
		t.Helper()
		sum, err := run1(t, acct)
		if err != nil {
			t.Fatalf("%s: %v (%+v)", what, err, sum)
		}
		return sum
	}
	sum := runOK("first run")
	if sum.Uploaded != 2 {
		t.Fatalf("first run uploaded %d, want 2 (%+v)", sum.Uploaded, sum)
	}
	if !mentions(sum.Warnings, "$Forwarded") {
		t.Errorf("first run: no warning about $Forwarded: %q", sum.Warnings)
	}
	// The lead's reproduction: the file renamed to carry P.
	if _, err := f.SetFlags(plain.Key, model.FlagPassed|model.FlagSeen); err != nil {
		t.Fatal(err)
	}
	for run := 2; run <= 3; run++ {
		sum = runOK("run " + string(rune('0'+run)))
		if sum.Uploaded != 0 || sum.Downloaded != 0 {
			t.Fatalf("run %d moved messages: %+v", run, sum)
		}
		if mentions(sum.Warnings, "$Forwarded") {
			t.Errorf("run %d: the warning about $Forwarded is repeated: %q", run, sum.Warnings)
		}
	}
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	rep, err := Verify(ctx, acct, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Differences) != 0 || rep.Checked != 2 {
		t.Errorf("verify: checked %d, differences %v; want 2 and none", rep.Checked, rep.Differences)
	}
	for _, k := range []string{fwdNew.Key, plain.Key} {
		en, err := f.Lookup(k)
		if err != nil {
			t.Fatal(err)
		}
		if en.Flags != model.FlagPassed|model.FlagSeen {
			t.Errorf("%s: local flags %v, want PS (P kept locally, S synced)", k, en.Flags)
		}
	}
}

func run1(t *testing.T, acct Account) (*Summary, error) {
	t.Helper()
	ctx, cancel := contextWithTimeout(2 * time.Minute)
	defer cancel()
	return Run(ctx, acct, Options{})
}

func mentions(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
