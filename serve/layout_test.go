package serve

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// Issue 10: serve publishes a Maildir of nested folders (as mbsync and
// OfflineIMAP write it) with Options.Layout = maildir.LayoutFS; every
// folder operation lands in the nested tree.
func TestServeFSLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mail")
	md, err := maildir.OpenLayout(root, maildir.LayoutFS)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{model.Inbox, "Archive/2002", "Été"} {
		if _, err := md.CreateFolder(f); err != nil {
			t.Fatal(err)
		}
	}
	e := &testEnv{t: t, root: root, md: md, opts: Options{Maildir: root, User: testUser, Password: testPass,
		AllowInsecureAuth: true, PollInterval: 100 * time.Millisecond}}
	e.deliver("Archive/2002", "Subject: old\n\nfrom 2002\n", model.FlagSeen, time.Date(2002, 5, 6, 7, 8, 9, 0, time.UTC))

	// Without the layout the nested tree is refused, saying what to do.
	if _, err := New(e.opts); !errors.Is(err, maildir.ErrLayoutMismatch) || !strings.Contains(err.Error(), "--layout fs") {
		t.Fatalf("New without Layout over nested folders: %v", err)
	}
	e.opts.Layout = maildir.LayoutFS
	e.start()
	t.Cleanup(e.stop)
	c := e.dial(nil)

	list := func() []string {
		t.Helper()
		boxes, err := c.List("", "*", nil).Collect()
		must(t, err)
		var names []string
		for _, b := range boxes {
			if !slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) {
				names = append(names, b.Mailbox)
			}
		}
		slices.Sort(names)
		return names
	}
	if got := list(); !slices.Equal(got, []string{"Archive/2002", "INBOX", "Été"}) {
		t.Fatalf("LIST = %q", got)
	}
	sel, err := c.Select("Archive/2002", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT Archive/2002: %v %v", sel, err)
	}
	must(t, c.Unselect().Wait())

	must(t, c.Create("Lists/go", nil).Wait())
	if _, err := os.Stat(filepath.Join(root, "Lists", "go", "tmp")); err != nil {
		t.Errorf("CREATE Lists/go: %v", err)
	}
	if err := c.Create("Lists/cur", nil).Wait(); err == nil {
		t.Error("CREATE Lists/cur (the parent's own cur/) succeeded")
	}
	must(t, c.Rename("Archive", "Old/Archive", nil).Wait())
	if got := list(); !slices.Equal(got, []string{"INBOX", "Lists/go", "Old/Archive/2002", "Été"}) {
		t.Fatalf("after RENAME Archive Old/Archive: LIST = %q", got)
	}
	if got := e.bodies("Old/Archive/2002"); len(got) != 1 || !strings.Contains(got[0], "from 2002") {
		t.Errorf("Old/Archive/2002 holds %q", got)
	}
	msg := "Subject: new\r\n\r\nappended\r\n"
	ac := c.Append("Été", int64(len(msg)), nil)
	ac.Write([]byte(msg))
	must(t, ac.Close())
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.Glob(filepath.Join(root, "&AMk-t&AOk-", "*", "*")); len(got) != 1 {
		t.Errorf("APPEND to Été: files %q, want one in &AMk-t&AOk-/", got)
	}
	must(t, c.Delete("Old/Archive/2002").Wait())
	if got := list(); !slices.Equal(got, []string{"INBOX", "Lists/go", "Été"}) {
		t.Fatalf("after DELETE: LIST = %q", got)
	}
}
