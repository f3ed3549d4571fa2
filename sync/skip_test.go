package sync

import (
	"context"
	"fmt"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// selectCounter is a real connection that records which folders the
// engine selects.
type selectCounter struct {
	*imapconn.Conn
	mu       *gosync.Mutex
	selected *[]string
	statused *[]string // the folders whose STATUS was asked
}

func (c selectCounter) Statuses(ctx context.Context, names []string, each func(string, model.FolderStatus)) (map[string]model.FolderStatus, error) {
	c.mu.Lock()
	*c.statused = append(*c.statused, names...)
	c.mu.Unlock()
	return c.Conn.Statuses(ctx, names, each)
}

func (c selectCounter) Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error) {
	c.mu.Lock()
	*c.selected = append(*c.selected, name)
	c.mu.Unlock()
	return c.Conn.Select(ctx, name, readOnly)
}

// syncCounting runs a sync that must succeed and returns its summary
// and the folders it selected (sorted, each once).
func (fx *fixture) syncCounting(t *testing.T) (*Summary, []string) {
	t.Helper()
	sum, selected, _ := fx.syncCountingStatus(t)
	return sum, selected
}

// syncWrapped runs a sync that must succeed over connections wrap makes
// of real ones.
func (fx *fixture) syncWrapped(t *testing.T, wrap func(*imapconn.Conn) conn) *Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	})
	if err != nil {
		t.Fatalf("sync: %v (summary %+v)", err, sum)
	}
	return sum
}

// syncCountingStatus is syncCounting that also returns the folders whose
// STATUS the run asked (sorted).
func (fx *fixture) syncCountingStatus(t *testing.T) (*Summary, []string, []string) {
	t.Helper()
	var mu gosync.Mutex
	var selected, statused []string
	sum := fx.syncWrapped(t, func(c *imapconn.Conn) conn { return selectCounter{c, &mu, &selected, &statused} })
	slices.Sort(selected)
	slices.Sort(statused)
	return sum, slices.Compact(selected), statused
}

// TestNoStatusForFoldersChangedLocally: a folder whose Maildir side
// changed since the last run is synced whatever the server says, so its
// STATUS is not asked (plan.MaySkip): its SELECT comes at once. (A STATUS
// per folder, answered one after the other on the first connection,
// held back every folder's sync after changes in the Maildir.) The
// others are asked as before, and skipped when unchanged.
func TestNoStatusForFoldersChangedLocally(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	names, err := fx.md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	toggleSeen(t, fx, "Archive/2024")
	fx.deliver(t, "Ünïcödé", testMsg("new locally"), 0)
	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	sum, sel, stat := fx.syncCountingStatus(t)
	var want []string
	for _, n := range names {
		if n != "Archive/2024" && n != "Ünïcödé" {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	if !slices.Equal(stat, want) {
		t.Errorf("STATUS asked of %q, want %q (not the folders changed in the Maildir)", stat, want)
	}
	if !slices.Equal(sel, []string{"Archive/2024", "INBOX", "Ünïcödé"}) || sum.FlagsToServer != 1 || sum.Uploaded != 1 || sum.FlagsToLocal != 1 {
		t.Errorf("selected %q, summary %+v", sel, sum)
	}
	fx.assertInSync(t)

	// Every folder changed in the Maildir: no STATUS at all.
	for _, n := range names {
		fx.deliver(t, n, testMsg("new in "+n), 0)
	}
	sum, sel, stat = fx.syncCountingStatus(t)
	if len(stat) != 0 || len(sel) != len(names) || sum.Uploaded != len(names) {
		t.Errorf("STATUS asked of %q, selected %q, summary %+v", stat, sel, sum)
	}
	fx.assertInSync(t)
	if sum, sel, _ := fx.syncCountingStatus(t); len(sel) != 0 || sum.Changed() {
		t.Errorf("the run after: selected %q, summary %+v", sel, sum)
	}
}

// TestSkipUnchangedFolders: on a CONDSTORE server a run selects only the
// folders that changed since the last run, on either side, and still
// syncs every change: a flag or a new message or an expunge on the
// server, a rename (flag change), a delivery or a removal in the
// Maildir. A no-op run selects nothing.
func TestSkipUnchangedFolders(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	expect := func(step string, want []string, check func(*Summary) bool) {
		t.Helper()
		sum, sel := fx.syncCounting(t)
		if !slices.Equal(sel, want) {
			t.Errorf("%s: selected %q, want %q", step, sel, want)
		}
		if !check(sum) {
			t.Errorf("%s: summary %+v", step, sum)
		}
		fx.assertInSync(t)
	}
	unchanged := func(s *Summary) bool { return !s.Changed() }
	expect("no-op", nil, unchanged)
	expect("second no-op", nil, unchanged)

	fx.srv.AddFlags(t, "INBOX", 1, `\Flagged`)
	expect("server flag", []string{"INBOX"}, func(s *Summary) bool { return s.FlagsToLocal == 1 })
	expect("no-op after the server flag", nil, unchanged)

	fx.srv.Save(t, "Sent", testMsg("new on the server"))
	expect("server new message", []string{"Sent"}, func(s *Summary) bool { return s.Downloaded == 1 })
	fx.srv.Expunge(t, "Sent", 1)
	expect("server expunge", []string{"Sent"}, func(s *Summary) bool { return s.DeletedLocal == 1 })

	arch := fx.folder(t, "Archive/2024")
	ents, err := arch.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arch.SetFlags(ents[0].Key, ents[0].Flags^model.FlagSeen); err != nil {
		t.Fatal(err)
	}
	expect("local rename", []string{"Archive/2024"}, func(s *Summary) bool { return s.FlagsToServer == 1 })
	expect("no-op after the local rename", nil, unchanged)

	fx.deliver(t, "Ünïcödé", testMsg("new locally"), 0)
	expect("local delivery", []string{"Ünïcödé"}, func(s *Summary) bool { return s.Uploaded == 1 })
	if err := arch.Remove(ents[1].Key); err != nil {
		t.Fatal(err)
	}
	expect("local removal", []string{"Archive/2024"}, func(s *Summary) bool { return s.ExpungedRemote == 1 })
	expect("final no-op", nil, unchanged)
}

// TestNoSkipWithoutCondStore: without CONDSTORE a flag changed on the
// server changes nothing STATUS tells, so every folder is synced every
// run (and the change is found).
func TestNoSkipWithoutCondStore(t *testing.T) {
	fx := newFixture(t, &dovecottest.Options{NoCondStore: true})
	seed(t, fx)
	fx.sync(t)
	if _, sel := fx.syncCounting(t); len(sel) != 4 {
		t.Fatalf("no-op without CONDSTORE selected %q, want every folder", sel)
	}
	fx.srv.AddFlags(t, "Sent", 2, `\Flagged`)
	if sum, _ := fx.syncCounting(t); sum.FlagsToLocal != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
}

// meddlingConn is a real connection that, at its first FetchBodies, lets
// another program rename a Maildir file (a flag change) while the sync
// is under way.
type meddlingConn struct {
	*imapconn.Conn
	once *gosync.Once
	act  func()
}

func (c meddlingConn) FetchBodies(ctx context.Context, uids []model.UID, fn func(model.Message) error) error {
	c.once.Do(c.act)
	return c.Conn.FetchBodies(ctx, uids, fn)
}

// TestChangeDuringSyncIsNotSkipped: a flag changed in the Maildir by
// another program while a sync runs (after the sync listed the folder)
// is not taken for the sync's own change: the next run syncs the folder
// and sends the flag to the server. (Only the server changed before the
// run, so its pass is a quick one, which plans the new message alone:
// the file renamed is not one it listed as a value.)
func TestChangeDuringSyncIsNotSkipped(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	ents, err := inbox.Scan()
	if err != nil {
		t.Fatal(err)
	}
	victim := ents[0]
	fx.srv.Save(t, "INBOX", testMsg("to download"))
	var once gosync.Once
	act := func() {
		other := fx.folder(t, "INBOX") // another program: its own view
		if _, err := other.SetFlags(victim.Key, victim.Flags^model.FlagFlagged); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		return meddlingConn{c, &once, act}, nil
	})
	if err != nil || sum.Downloaded != 1 || sum.QuickPasses != 1 {
		t.Fatalf("sync: %v %+v", err, sum)
	}
	if sum, sel := fx.syncCounting(t); sum.FlagsToServer != 1 || !slices.Contains(sel, "INBOX") {
		t.Fatalf("the flag changed during the sync was not synced: selected %q, summary %+v", sel, sum)
	}
	fx.assertInSync(t)
}

// statusGate is a real connection whose Statuses waits until a folder
// has been selected on another connection (or 10 s have passed), and
// reports which.
type statusGate struct {
	*imapconn.Conn
	selected chan string
	sawFirst *bool
}

func (c statusGate) Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error) {
	select {
	case c.selected <- name:
	default:
	}
	return c.Conn.Select(ctx, name, readOnly)
}

func (c statusGate) Statuses(ctx context.Context, names []string, each func(string, model.FolderStatus)) (map[string]model.FolderStatus, error) {
	select {
	case name := <-c.selected:
		*c.sawFirst = name == "Archive/2024"
	case <-time.After(10 * time.Second):
	}
	return c.Conn.Statuses(ctx, names, each)
}

// TestChangedLocallyStartsBeforeStatus: a folder changed in the Maildir
// needs no STATUS, and a worker starts syncing it while the first
// connection is still asking the STATUS of the others (the server may
// take long to answer it: Dovecot answered a pipelined STATUS of five
// large folders after 110-150 ms). A worker opens its connection only
// once it has a folder.
func TestChangedLocallyStartsBeforeStatus(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	toggleSeen(t, fx, "Archive/2024")
	selected := make(chan string, 1)
	sawFirst := false
	dials := 0
	var mu gosync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		dials++
		mu.Unlock()
		return statusGate{c, selected, &sawFirst}, nil
	})
	if err != nil || sum.FlagsToServer != 1 {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	if !sawFirst {
		t.Error("the folder changed in the Maildir was not selected while the STATUS of the others waited")
	}
	if dials != 2 {
		t.Errorf("%d connections, want 2 (the first, and one worker for the changed folder)", dials)
	}
	fx.assertInSync(t)
	dials = 0
	if sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		mu.Lock()
		dials++
		mu.Unlock()
		return imapconn.Dial(ctx, fx.acct.IMAP)
	}); err != nil || sum.Changed() || dials != 1 {
		t.Errorf("the no-op after: %v, %+v, %d connections (want 1)", err, sum, dials)
	}
}

// toggleSeen renames the first message file of a Maildir folder to
// toggle its \Seen flag, as a mail client does.
func toggleSeen(t *testing.T, fx *fixture, folder string) {
	t.Helper()
	f := fx.folder(t, folder)
	ents, err := f.Scan()
	if err != nil || len(ents) == 0 {
		t.Fatalf("scan %s: %d messages, %v", folder, len(ents), err)
	}
	if _, err := f.SetFlags(ents[0].Key, ents[0].Flags^model.FlagSeen); err != nil {
		t.Fatal(err)
	}
}

// selectRecorder is a real connection that reports each folder it
// selects, with its number, and whose Statuses returns only once
// afterStatus does.
type selectRecorder struct {
	*imapconn.Conn
	id          int
	onSel       func(id int, name string)
	afterStatus func()
}

func (c selectRecorder) Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error) {
	c.onSel(c.id, name)
	return c.Conn.Select(ctx, name, readOnly)
}

func (c selectRecorder) Statuses(ctx context.Context, names []string, each func(string, model.FolderStatus)) (map[string]model.FolderStatus, error) {
	m, err := c.Conn.Statuses(ctx, names, each)
	c.afterStatus()
	return m, err
}

// TestFirstConnectionTakesTheChangedFolder: when the STATUS answers show
// one folder changed on the server, the first connection, free once
// they are read, syncs it; it does not wait for a second connection's
// login (40-55 ms on the bench Dovecot, which held the largest folder
// back in a server-delta run). The worker that dialed for it finds
// nothing left and stops.
func TestFirstConnectionTakesTheChangedFolder(t *testing.T) {
	fx := newFixture(t, nil)
	seed(t, fx)
	fx.sync(t)
	fx.srv.Save(t, "INBOX", []byte("From: a@example.org\r\nSubject: new\r\nMessage-ID: <first-conn@example.org>\r\n\r\nhello\r\n"))
	var mu gosync.Mutex
	dials := 0
	var selected []string
	release, dialing := make(chan struct{}), make(chan struct{})
	var once gosync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		mu.Lock()
		dials++
		id := dials
		mu.Unlock()
		if id > 1 {
			// A slow login: until the folder is selected elsewhere.
			if id == 2 {
				close(dialing)
			}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		if err != nil {
			return nil, err
		}
		return selectRecorder{c, id, func(id int, name string) {
			mu.Lock()
			selected = append(selected, fmt.Sprintf("%s on connection %d", name, id))
			mu.Unlock()
			if name == "INBOX" {
				once.Do(func() { close(release) })
			}
		}, func() {
			// The STATUS answers are read, and a worker has taken
			// the changed folder and is logging in.
			select {
			case <-dialing:
			case <-time.After(5 * time.Second):
			}
		}}, nil
	})
	if err != nil || sum.Downloaded != 1 {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	if len(selected) != 1 || selected[0] != "INBOX on connection 1" {
		t.Errorf("selected %q, want INBOX on the first connection", selected)
	}
	fx.assertInSync(t)
}
