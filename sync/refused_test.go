package sync

import (
	"strings"
	"testing"
)

// TestRefusedMessageDoesNotBlockLaterUploads (issue 8, case 11): a message
// the server refuses (Dovecot answers NO to a zero-byte APPEND) is skipped
// with an error naming its file; the messages after it are uploaded, this
// run and the next, and the summary says the run was partial.
func TestRefusedMessageDoesNotBlockLaterUploads(t *testing.T) {
	requireDovecot(t, "a server that refuses a zero-byte APPEND")
	fx := newFixture(t, nil)
	fx.sync(t)
	fx.deliver(t, "INBOX", testMsg("before the empty one"), 0)
	empty := fx.deliver(t, "INBOX", nil, 0)
	for i := 0; i < 3; i++ {
		fx.deliver(t, "INBOX", testMsg("after the empty one"), 0)
	}
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, Options{})
		if err == nil {
			t.Fatalf("run %d: no error for a refused message (%+v)", run, sum)
		}
		if run == 1 && sum.Uploaded != 4 {
			t.Fatalf("run %d: uploaded %d, want 4 (%v; %+v)", run, sum.Uploaded, err, sum)
		}
		if run == 2 && sum.Uploaded != 0 {
			t.Fatalf("run %d: uploaded %d again (%+v)", run, sum.Uploaded, sum)
		}
		if sum.Skipped != 1 || len(sum.Errors) != 1 {
			t.Fatalf("run %d: skipped %d, errors %q; want 1 skipped and one error", run, sum.Skipped, sum.Errors)
		}
		if e := sum.Errors[0]; !strings.Contains(e, `folder "INBOX"`) || !strings.Contains(e, empty.Key) || !strings.Contains(e, fx.folder(t, "INBOX").Path()) {
			t.Fatalf("run %d: the error does not name the folder and the file: %q", run, e)
		}
		if n := len(fx.srv.Messages(t, "INBOX")); n != 4 {
			t.Fatalf("run %d: %d messages on the server, want 4", run, n)
		}
	}
}
