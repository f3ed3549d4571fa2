package sync

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/crashpoint"
)

// TestOrphanedDownloadIsNotUploaded (issue 8, case 3): a run crashes
// after writing a downloaded file and before the state names it; another
// client then expunges that message on the server. The next run must know
// the file for an unfinished download of a message now gone, and remove
// it, not upload it as a new message.
func TestOrphanedDownloadIsNotUploaded(t *testing.T) {
	setup := func(t *testing.T, fx *fixture) {
		fx.srv.Save(t, "INBOX", fixedMsg("kept"))
		fx.srv.Save(t, "INBOX", fixedMsg("expunged by another client"))
	}
	// Which step is the second message's delivery: count them once.
	ref := newCrashFixture(t)
	setup(t, ref)
	steps := filepath.Join(t.TempDir(), "steps")
	if code, out := ref.runChild(t, "MAILSYNC_STEP_LOG="+steps); code != 0 {
		t.Fatalf("reference run: exit %d: %s", code, out)
	}
	log, err := os.ReadFile(steps)
	if err != nil {
		t.Fatal(err)
	}
	k, delivered := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		var n int
		var kind string
		fmt.Sscanf(line, "%d %s", &n, &kind)
		if kind == "maildir-deliver" {
			if delivered++; delivered == 2 {
				k = n
			}
		}
	}
	if k == 0 {
		t.Fatalf("no second maildir-deliver step:\n%s", log)
	}

	fx := newCrashFixture(t)
	setup(t, fx)
	if code, out := fx.runChild(t, fmt.Sprintf("MAILSYNC_CRASH_AFTER=%d", k)); code != crashpoint.ExitCode {
		t.Fatalf("crashing run: exit %d: %s", code, out)
	}
	fx.srv.Expunge(t, "INBOX", 2)
	sum := fx.sync(t)
	if sum.Uploaded != 0 {
		t.Fatalf("the orphaned download was uploaded as new: %+v", sum)
	}
	if n := len(fx.srv.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("%d messages on the server, want 1", n)
	}
	fx.assertInSync(t)
}
