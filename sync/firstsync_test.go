package sync

import (
	"context"
	gosync "sync"
	"testing"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

// rangeCounter is a real connection that counts, per selected folder,
// the whole listings (ListMessages without CHANGEDSINCE) and the UID
// ranges listed (ListUIDRange).
type rangeCounter struct {
	*imapconn.Conn
	mu       *gosync.Mutex
	selected string
	whole    map[string]int
	ranges   map[string]int
}

func (c *rangeCounter) Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error) {
	c.selected = name
	return c.Conn.Select(ctx, name, readOnly)
}

func (c *rangeCounter) ListMessages(ctx context.Context, changedSince uint64) ([]model.RemoteMsg, error) {
	if changedSince == 0 {
		c.mu.Lock()
		c.whole[c.selected]++
		c.mu.Unlock()
	}
	return c.Conn.ListMessages(ctx, changedSince)
}

func (c *rangeCounter) ListUIDRange(ctx context.Context, lo, hi model.UID) ([]model.RemoteMsg, error) {
	c.mu.Lock()
	c.ranges[c.selected]++
	c.mu.Unlock()
	return c.Conn.ListUIDRange(ctx, lo, hi)
}

// TestFirstSyncInSlices: the first sync of a folder into an empty
// Maildir folder lists and applies the server's messages a slice of UIDs
// at a time (a folder of 60,000 messages listed at once held 25 MB), with
// the result of a whole pass: every message, its flags and keywords, even
// with gaps in the UIDs. A folder whose Maildir side already holds a
// file is synced by a whole pass, which pairs that file by content
// rather than downloading a second copy.
func TestFirstSyncInSlices(t *testing.T) {
	old := firstSyncSlice
	firstSyncSlice = 4
	t.Cleanup(func() { firstSyncSlice = old })
	fx := newFixture(t, nil)
	for i := 0; i < 12; i++ {
		fx.srv.Save(t, "INBOX", testMsg("inbox message"))
	}
	fx.srv.Expunge(t, "INBOX", 2)
	fx.srv.Expunge(t, "INBOX", 7)
	fx.srv.AddFlags(t, "INBOX", 5, `\Seen`, "$Label1")
	fx.srv.AddFlags(t, "INBOX", 12, `\Flagged`)
	both := testMsg("in both")
	for i := 0; i < 6; i++ {
		fx.srv.Save(t, "Sent", testMsg("sent message"))
	}
	fx.srv.Save(t, "Sent", both)
	fx.deliver(t, "Sent", both, 0)

	var mu gosync.Mutex
	whole, ranges := map[string]int{}, map[string]int{}
	sum := fx.syncWrapped(t, func(c *imapconn.Conn) conn {
		return &rangeCounter{Conn: c, mu: &mu, whole: whole, ranges: ranges}
	})
	if ranges["INBOX"] != 3 || whole["INBOX"] != 0 {
		t.Errorf("INBOX (10 messages, slices of 4): %d ranges and %d whole listings, want 3 and 0", ranges["INBOX"], whole["INBOX"])
	}
	if ranges["Sent"] != 0 || whole["Sent"] != 1 {
		t.Errorf("Sent (a file in the Maildir): %d ranges and %d whole listings, want 0 and 1", ranges["Sent"], whole["Sent"])
	}
	if sum.Downloaded != 16 || sum.Paired != 1 || sum.Uploaded != 0 {
		t.Errorf("summary %+v: want 16 downloaded, 1 paired", sum)
	}
	fx.assertInSync(t)
	// The slices' file names were let go of (ForgetLocations): the
	// folders still settled from the watch, and the next run selects
	// neither.
	if sum, sel := fx.syncCounting(t); sum.Changed() || len(sel) != 0 {
		t.Fatalf("the next run selected %q: %+v", sel, sum)
	}
}
