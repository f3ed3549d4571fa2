package serve

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

func (e *testEnv) port() string {
	_, p, err := net.SplitHostPort(e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestPythonImaplib(t *testing.T) {
	py := needBinary(t, "python3")
	e := newEnv(t, nil)
	e.folder("Archive/2024")
	for _, s := range []string{"first", "second", "third"} {
		e.deliver("INBOX", fmt.Sprintf("From: x@example.org\nSubject: %s\n\n%s body\nwith 8-bit \xc3\xa9\n", s, strings.ToUpper(s)), 0, time.Time{})
	}
	script, err := filepath.Abs("testdata/imaplib_client.py")
	must(t, err)
	cmd := exec.Command(py, script, e.port(), e.root, testUser, testPass)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.HasSuffix(bytes.TrimSpace(out), []byte("OK")) {
		t.Fatalf("imaplib client: %v\n%s", err, out)
	}
}

// archive is a multi-folder Maildir used by the mbsync and offlineimap
// tests: message text by folder, with flags.
type archiveMsg struct {
	body  string
	flags model.Flags
}

func buildArchive(t *testing.T, e *testEnv) map[string][]archiveMsg {
	t.Helper()
	a := map[string][]archiveMsg{
		"INBOX": {
			{"From: a@example.org\nSubject: one\nDate: Mon, 01 Jan 2024 10:00:00 +0000\nMessage-ID: <1@x>\n\nplain body\n", 0},
			{"From: b@example.org\nSubject: two\nMessage-ID: <2@x>\n\n8-bit caf\xc3\xa9 and latin1 \xe9\n\n\nblank lines above\n", model.FlagSeen | model.FlagFlagged},
			{"From: c@example.org\nSubject: three\nMessage-ID: <3@x>\nX-Long: " + strings.Repeat("long ", 200) + "\n\n" + strings.Repeat("a fairly long line of text\n", 3000), model.FlagSeen | model.FlagReplied},
		},
		"Sent": {
			{"From: me@example.org\nTo: a@example.org\nSubject: sent one\nMessage-ID: <4@x>\n\nhi\n", model.FlagSeen},
		},
		"Archive/2024": {
			{"From: d@example.org\nSubject: archived\nMessage-ID: <5@x>\n\nold\n", model.FlagSeen | model.FlagPassed},
			{"From: e@example.org\nSubject: draft\nMessage-ID: <6@x>\n\ndraft\n", model.FlagDraft | model.FlagSeen},
		},
		"Entwürfe": {
			{"From: f@example.org\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\nMessage-ID: <7@x>\n\nGr\xc3\xbc\xc3\x9fe\n", 0},
		},
	}
	for folder, msgs := range a {
		for _, m := range msgs {
			e.deliver(folder, m.body, m.flags, time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC))
		}
	}
	return a
}

var tuidRE = regexp.MustCompile(`(?m)^X-TUID: [^\n]*\n`)

// compareArchive checks that the Maildir at root holds exactly the
// archive's messages, byte for byte after dropping the X-TUID header,
// with equal flags.
// Flags in ignore are not compared.
func compareArchive(t *testing.T, root string, want map[string][]archiveMsg, folderDir func(string) string, ignore model.Flags) {
	t.Helper()
	for folder, msgs := range want {
		dir := folderDir(folder)
		type got struct {
			body  string
			flags model.Flags
		}
		var have []got
		for _, sub := range []string{"new", "cur"} {
			ents, err := os.ReadDir(filepath.Join(dir, sub))
			if err != nil {
				t.Errorf("folder %q: %v", folder, err)
				continue
			}
			for _, en := range ents {
				b, err := os.ReadFile(filepath.Join(dir, sub, en.Name()))
				must(t, err)
				_, _, flags := maildir.ParseName(en.Name())
				have = append(have, got{tuidRE.ReplaceAllString(string(b), ""), flags})
			}
		}
		sort.Slice(have, func(i, j int) bool { return have[i].body < have[j].body })
		ws := append([]archiveMsg(nil), msgs...)
		sort.Slice(ws, func(i, j int) bool { return ws[i].body < ws[j].body })
		if len(have) != len(ws) {
			t.Errorf("folder %q: %d messages, want %d", folder, len(have), len(ws))
			continue
		}
		for i := range ws {
			if have[i].body != ws[i].body {
				t.Errorf("folder %q: message differs:\n got %q\nwant %q", folder, clip(have[i].body), clip(ws[i].body))
			}
			if have[i].flags&^ignore != ws[i].flags&^ignore {
				t.Errorf("folder %q: flags %v, want %v", folder, have[i].flags, ws[i].flags)
			}
		}
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestMbsync(t *testing.T) {
	mbsync := needBinary(t, "mbsync")
	e := newEnv(t, nil)
	want := buildArchive(t, e)
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	must(t, os.MkdirAll(local, 0o700))
	conf := filepath.Join(dir, "mbsyncrc")
	host, port, _ := net.SplitHostPort(e.addr)
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`IMAPAccount serve
Host %s
Port %s
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account serve

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel pull
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
`, host, port, testUser, testPass, local, local)), 0o600))
	cmd := exec.Command(mbsync, "-c", conf, "-a")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	// mbsync 1.4 keeps the wire (modified UTF-7) spelling of names.
	compareArchive(t, local, want, func(name string) string {
		return filepath.Join(local, filepath.FromSlash(utf7Name(name)))
	}, 0)
	// The server side is unchanged (Sync Pull never writes remotely).
	for folder, msgs := range want {
		if n := len(e.files(folder)); n != len(msgs) {
			t.Errorf("server folder %q now has %d messages", folder, n)
		}
	}
}

// utf7Name is the modified UTF-7 (RFC 3501 5.1.3) spelling of name, as
// mbsync 1.4 uses for local folder names.
func utf7Name(name string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		var u16 []byte
		for _, r := range utf16.Encode(run) {
			u16 = append(u16, byte(r>>8), byte(r))
		}
		enc := base64.StdEncoding.WithPadding(base64.NoPadding).EncodeToString(u16)
		b.WriteString("&" + strings.ReplaceAll(enc, "/", ",") + "-")
		run = nil
	}
	for _, r := range name {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String()
}

func TestOfflineimap(t *testing.T) {
	offlineimap := needBinary(t, "offlineimap")
	e := newEnv(t, nil)
	want := buildArchive(t, e)
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	host, port, _ := net.SplitHostPort(e.addr)
	conf := filepath.Join(dir, "offlineimaprc")
	must(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[general]
accounts = serve
metadata = %s/meta
ui = basic

[Account serve]
localrepository = local
remoterepository = remote
utf8foldernames = yes

[Repository local]
type = Maildir
localfolders = %s
sep = /

[Repository remote]
type = IMAP
remotehost = %s
remoteport = %s
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
readonly = True
`, dir, local, host, port, testUser, testPass)), 0o600))
	cmd := exec.Command(offlineimap, "-c", conf, "-o", "-1")
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("ERROR")) {
		t.Fatalf("offlineimap: %v\n%s", err, out)
	}
	// offlineimap has no Maildir letter for $Forwarded.
	compareArchive(t, local, want, func(name string) string {
		return filepath.Join(local, filepath.FromSlash(name))
	}, model.FlagPassed)
	if t.Failed() {
		t.Logf("offlineimap output:\n%s", out)
	}
}

// TestImaplibMatchesDovecot runs one scenario (keywords, \Recent, STORE
// NIL, COPY with keywords, ID before login, LSUB, a bad UTF-7 pattern)
// with Python's imaplib against Dovecot and against serve: the
// transcripts must be the same.
func TestImaplibMatchesDovecot(t *testing.T) {
	py := needBinary(t, "python3")
	script, err := filepath.Abs("testdata/imaplib_conformance.py")
	must(t, err)
	run := func(addr, user, pass string) string {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(py, script, host, port, user, pass).CombinedOutput()
		if err != nil {
			t.Fatalf("imaplib against %s: %v\n%s", addr, err, out)
		}
		return string(out)
	}
	d := dovecottest.Start(t, nil)
	want := run(d.Addr, d.User, d.Password)
	e := newEnv(t, nil)
	got := run(e.addr, testUser, testPass)
	if got != want {
		t.Errorf("serve's transcript:\n%s\nDovecot's:\n%s", got, want)
	}
	t.Logf("transcript:\n%s", got)
}
