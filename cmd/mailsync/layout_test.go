package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/internal/mbsynctest"
	"github.com/mailsync/mailsync/model"
)

// startServe runs mailsync serve with args on a free loopback port and
// returns a client logged in as "me" (password "pw"). The server stops
// when the test ends.
func startServe(t *testing.T, args ...string) *imapclient.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("MAILSYNC_SERVE_PASSWORD", "pw")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, append([]string{"mailsync", "serve", "--listen", addr, "--user", "me"}, args...), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := imapclient.DialInsecure(addr, nil)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			if err := c.Login("me", "pw").Wait(); err != nil {
				t.Fatalf("login: %v", err)
			}
			return c
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %v; stderr %q", err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 10: a Maildir made by mbsync ("SubFolders Verbatim") is synced
// with layout = "fs" without downloading anything, refused with a clear
// message without it, and served by `mailsync serve --layout fs`: LIST
// shows the nested folders, SELECT and FETCH read them, APPEND and
// CREATE write into the nested tree.
func TestServeAndSyncMbsyncMaildir(t *testing.T) {
	srv := dovecottest.Start(t, nil)
	folders := map[string]int{"INBOX": 2, "Archive/2002": 1, "Été/Sous-dossier": 1}
	for f, n := range folders {
		for i := 0; i < n; i++ {
			srv.Save(t, f, []byte(fmt.Sprintf("Subject: %s %d\nMessage-ID: <%d.%s@t>\n\nbody\n", f, i, i, strings.ReplaceAll(f, "/", "."))))
		}
	}
	srv.AddFlags(t, "Archive/2002", 1, `\Seen`, `\Flagged`)
	cfg, mail := account(t, srv, "")
	mbsynctest.Mbsync(t, srv, mail, false)

	// The config says nothing: the nested tree is refused, by sync and
	// by serve, with what to do.
	code, _, stderr := run(t, "--config", cfg, "sync")
	if code == exitOK || !strings.Contains(stderr, `layout = "fs"`) {
		t.Fatalf("sync without layout: exit %d, stderr %q; want a failure saying layout = \"fs\"", code, stderr)
	}
	t.Setenv("MAILSYNC_SERVE_PASSWORD", "pw")
	code, _, stderr = run(t, "serve", "--maildir", mail, "--user", "me", "--listen", "127.0.0.1:0")
	if code == exitOK || !strings.Contains(stderr, "--layout fs") {
		t.Fatalf("serve without --layout: exit %d, stderr %q; want a refusal saying --layout fs", code, stderr)
	}
	if code, _, stderr := run(t, "serve", "--maildir", mail, "--user", "me", "--layout", "nested"); code != exitUsage || !strings.Contains(stderr, `"nested"`) {
		t.Fatalf("--layout nested: exit %d, %q", code, stderr)
	}

	cfg = writeConfig(t, fmt.Sprintf("[accounts.t]\nhost = %q\nport = %d\ntls = \"none\"\nuser = %q\nmaildir = %q\nstate = %q\npassword_env = \"TEST_PW\"\nlayout = \"fs\"\n",
		srv.Host, srv.Port, srv.User, mail, filepath.Join(t.TempDir(), "t.db")))
	code, stdout, stderr := run(t, "--config", cfg, "--json", "sync")
	var res struct {
		OK       bool
		Accounts []struct{ Downloaded, Uploaded int }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != exitOK || !res.OK || res.Accounts[0].Downloaded != 0 || res.Accounts[0].Uploaded != 0 {
		t.Fatalf("sync with layout = \"fs\": exit %d, %q, %s", code, stdout, stderr)
	}
	if code, stdout, _ := run(t, "--config", cfg, "verify"); code != exitOK || !strings.Contains(stdout, "agree") {
		t.Fatalf("verify: %d %q", code, stdout)
	}

	c := startServe(t, "--maildir", mail, "--layout", "fs")
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	for f := range folders {
		if !slices.Contains(names, f) {
			t.Errorf("LIST gave %q, without %q", names, f)
		}
	}
	sel, err := c.Select("Archive/2002", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT Archive/2002: %v, %v", sel, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v, %v", msgs, err)
	}
	files, _ := filepath.Glob(filepath.Join(mail, "Archive", "2002", "cur", "*"))
	if len(files) != 1 {
		t.Fatalf("Archive/2002/cur holds %q", files)
	}
	file, _ := os.ReadFile(files[0])
	var body []byte
	for _, b := range msgs[0].BodySection {
		body = b.Bytes
	}
	if !bytes.Equal(body, model.ToCRLF(file)) || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
		t.Errorf("FETCH gave flags %v, body %q; want \\Flagged and the file %q", msgs[0].Flags, body, file)
	}

	appended := "Subject: appended\r\nMessage-ID: <appended@t>\r\n\r\nhello\r\n"
	ac := c.Append("Été/Sous-dossier", int64(len(appended)), nil)
	ac.Write([]byte(appended))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	got, _ := filepath.Glob(filepath.Join(mail, "&AMk-t&AOk-", "Sous-dossier", "*", "*"))
	n := 0
	for _, p := range got {
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "<appended@t>") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the appended message is in %d files of %q, want 1", n, got)
	}
	if err := c.Create("Projets/Été 2025", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mail, "Projets", "&AMk-t&AOk- 2025", "cur")); err != nil {
		t.Errorf("CREATE Projets/Été 2025: %v", err)
	}
}
