package serve

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailsync/mailsync/model"
)

// A message with a lone CR, 8-bit bytes, a folded header and no final
// newline quirks: every byte must survive.
const oddMsg = "From: Ann <ann@example.org>\nTo: bob@example.org\nSubject: =?utf-8?q?caf=C3=A9?= and\n more\nDate: Tue, 02 Jan 2024 10:00:00 +0000\nMessage-ID: <odd@example.org>\n\nline one\rwith a lone CR\nUTF-8 \xc3\xa9 and latin1 \xe9\n\n-- \nsig\n"

const plainMsg = "From: carol@example.org\nTo: alice@example.org\nSubject: hello\nDate: Wed, 10 Jan 2024 12:00:00 +0100\n\nhello world\n"

func TestLogin(t *testing.T) {
	e := newEnv(t, nil)

	c, err := imapclient.DialInsecure(e.addr, nil)
	must(t, err)
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err == nil {
		t.Fatal("SELECT before login succeeded")
	}
	err = c.Login(testUser, "wrong").Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("wrong password: got %v, want NO [AUTHENTICATIONFAILED]", err)
	}
	if err := c.Login("mallory", testPass).Wait(); err == nil {
		t.Fatal("wrong user accepted")
	}
	must(t, c.Login(testUser, testPass).Wait())

	c2, err := imapclient.DialInsecure(e.addr, nil)
	must(t, err)
	defer c2.Close()
	if err := c2.Authenticate(sasl.NewPlainClient("", testUser, "nope")); err == nil {
		t.Fatal("AUTHENTICATE PLAIN with a wrong password succeeded")
	}
	must(t, c2.Authenticate(sasl.NewPlainClient("", testUser, testPass)))
	if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestInsecureAuthRefused(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowInsecureAuth = false })
	c, err := imapclient.DialInsecure(e.addr, nil)
	must(t, err)
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err == nil {
		t.Fatal("plaintext LOGIN accepted without TLS")
	}
}

func TestListAndSpecialUse(t *testing.T) {
	e := newEnv(t, nil)
	for _, n := range []string{"Sent Messages", "Archive/2024", "Entwürfe", "Deleted Items", "Junk", "Drafts", "Work.Projects"} {
		e.folder(n)
	}
	c := e.dial(nil)
	list, err := c.List("", "*", nil).Collect()
	must(t, err)
	got := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		got[l.Mailbox] = l.Attrs
		if l.Delim != '/' {
			t.Errorf("%s: delimiter %q", l.Mailbox, l.Delim)
		}
	}
	want := map[string][]imap.MailboxAttr{
		"INBOX":         {imap.MailboxAttrHasNoChildren},
		"Sent Messages": {imap.MailboxAttrHasNoChildren, imap.MailboxAttrSent},
		"Archive":       {imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren},
		"Archive/2024":  {imap.MailboxAttrHasNoChildren},
		"Entwürfe":      {imap.MailboxAttrHasNoChildren},
		"Deleted Items": {imap.MailboxAttrHasNoChildren, imap.MailboxAttrTrash},
		"Junk":          {imap.MailboxAttrHasNoChildren, imap.MailboxAttrJunk},
		"Drafts":        {imap.MailboxAttrHasNoChildren, imap.MailboxAttrDrafts},
		"Work.Projects": {imap.MailboxAttrHasNoChildren},
	}
	if len(got) != len(want) {
		t.Errorf("LIST gave %v, want %v", got, want)
	}
	for n, w := range want {
		if !equalAttrs(got[n], w) {
			t.Errorf("LIST %q: attrs %v, want %v", n, got[n], w)
		}
	}
	top, err := c.List("", "%", nil).Collect()
	must(t, err)
	for _, l := range top {
		if strings.Contains(l.Mailbox, "/") {
			t.Errorf("LIST %% gave %q", l.Mailbox)
		}
	}

	// SUBSCRIBE persists across restarts; LSUB lists it.
	must(t, c.Subscribe("Archive/2024").Wait())
	must(t, c.Subscribe("Entwürfe").Wait())
	must(t, c.Unsubscribe("Entwürfe").Wait())
	c.Close()
	e.restart()
	c = e.dial(nil)
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	must(t, err)
	if len(subs) != 1 || subs[0].Mailbox != "Archive/2024" {
		t.Errorf("subscribed: %v", subs)
	}

	ns, err := c.Namespace().Wait()
	must(t, err)
	if len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Errorf("NAMESPACE: %+v", ns)
	}
}

func equalAttrs(a, b []imap.MailboxAttr) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[imap.MailboxAttr]bool{}
	for _, x := range a {
		m[imap.MailboxAttr(strings.ToLower(string(x)))] = true
	}
	for _, x := range b {
		if !m[imap.MailboxAttr(strings.ToLower(string(x)))] {
			return false
		}
	}
	return true
}

func TestFetchExact(t *testing.T) {
	e := newEnv(t, nil)
	date := time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)
	e.deliver("INBOX", oddMsg, 0, date)
	e.deliver("INBOX", plainMsg, model.FlagSeen|model.FlagFlagged, date.Add(time.Hour))
	c := e.dial(nil)

	sel, err := c.Select("INBOX", nil).Wait()
	must(t, err)
	if sel.NumMessages != 2 || sel.UIDNext != 3 || sel.UIDValidity == 0 {
		t.Fatalf("SELECT: %+v", sel)
	}
	if len(sel.PermanentFlags) != 7 || sel.PermanentFlags[6] != imap.FlagWildcard {
		t.Errorf("PERMANENTFLAGS %v", sel.PermanentFlags)
	}

	full := &imap.FetchItemBodySection{Peek: true}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	txt := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText, Peek: true}
	part := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 3}}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{full, hdr, txt, part},
	}).Collect()
	must(t, err)
	if len(msgs) != 2 {
		t.Fatalf("fetched %d messages", len(msgs))
	}
	for i, raw := range []string{oddMsg, plainMsg} {
		m := msgs[i]
		wire := model.ToCRLF([]byte(raw))
		if got := m.FindBodySection(full); !bytes.Equal(got, wire) {
			t.Errorf("msg %d BODY[]:\n got %q\nwant %q", i+1, got, wire)
		}
		if m.RFC822Size != int64(len(wire)) {
			t.Errorf("msg %d RFC822.SIZE %d, want %d", i+1, m.RFC822Size, len(wire))
		}
		h := model.HeaderBlock(wire)
		if got := m.FindBodySection(hdr); !bytes.Equal(got, h) {
			t.Errorf("msg %d BODY[HEADER] %q", i+1, got)
		}
		if got := m.FindBodySection(txt); !bytes.Equal(got, wire[len(h):]) {
			t.Errorf("msg %d BODY[TEXT] %q", i+1, got)
		}
		if got := m.FindBodySection(part); !bytes.Equal(got, wire[6:9]) {
			t.Errorf("msg %d BODY[]<6.3> %q", i+1, got)
		}
		if m.UID != imap.UID(i+1) {
			t.Errorf("msg %d UID %d", i+1, m.UID)
		}
		if m.Envelope == nil || m.BodyStructure == nil {
			t.Errorf("msg %d: no envelope or bodystructure", i+1)
		}
	}
	if !msgs[0].InternalDate.Equal(date) {
		t.Errorf("INTERNALDATE %v, want %v", msgs[0].InternalDate, date)
	}
	if msgs[0].Envelope.Subject != "café and more" {
		t.Errorf("ENVELOPE subject %q", msgs[0].Envelope.Subject)
	}
	if got := flagSet(msgs[1].Flags); got != "FS" {
		t.Errorf("flags %s", got)
	}
	// PEEK left the flags alone (SELECT moved new/ to cur/, as Dovecot does).
	for _, en := range e.files("INBOX") {
		if en.Flags&model.FlagSeen == 0 && en.Name != en.Key+":2," {
			t.Errorf("%s changed by a PEEK", en.Name)
		}
	}

	// RFC822.HEADER / RFC822.TEXT via BODY sections without PEEK set \Seen.
	body := &imap.FetchItemBodySection{}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	must(t, err)
	if len(msgs) != 1 || !bytes.Equal(msgs[0].FindBodySection(body), model.ToCRLF([]byte(oddMsg))) {
		t.Fatal("BODY[] differs")
	}
	if got := flagSet(msgs[0].Flags); got != "S" {
		t.Errorf("BODY[] did not report \\Seen: %s", got)
	}
	for _, en := range e.files("INBOX") {
		if en.Flags&model.FlagSeen == 0 {
			t.Errorf("%s not marked seen on disk", en.Name)
		}
	}
}

func TestExamineIsReadOnly(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver("INBOX", plainMsg, 0, time.Time{})
	before := e.files("INBOX")
	c := e.dial(nil)
	_, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	must(t, err)
	body := &imap.FetchItemBodySection{}
	_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	must(t, err)
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE after EXAMINE succeeded")
	}
	if _, err := c.Expunge().Collect(); err == nil {
		t.Error("EXPUNGE after EXAMINE succeeded")
	}
	must(t, c.UnselectAndExpunge().Wait()) // CLOSE: no error, nothing removed
	after := e.files("INBOX")
	for k, en := range before {
		if after[k].Name != en.Name || after[k].Dir != en.Dir {
			t.Errorf("EXAMINE changed %s: %s/%s -> %s/%s", k, en.Dir, en.Name, after[k].Dir, after[k].Name)
		}
	}
}

func TestReadOnlyServer(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ReadOnly = true })
	e.deliver("INBOX", plainMsg, 0, time.Time{})
	e.folder("Other")
	before := e.files("INBOX")
	c := e.dial(nil)
	sel, err := c.Select("INBOX", nil).Wait()
	must(t, err)
	if len(sel.PermanentFlags) != 0 {
		t.Errorf("PERMANENTFLAGS %v on a read-only server", sel.PermanentFlags)
	}
	body := &imap.FetchItemBodySection{}
	_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	must(t, err)

	isRO := func(what string, err error) {
		t.Helper()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || !strings.Contains(ie.Text, "read-only") {
			t.Errorf("%s: got %v, want NO read-only archive", what, err)
		}
	}
	isRO("STORE", c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	_, err = c.Expunge().Collect()
	isRO("EXPUNGE", err)
	_, err = c.Copy(imap.SeqSetNum(1), "Other").Wait()
	isRO("COPY", err)
	_, err = c.Move(imap.SeqSetNum(1), "Other").Wait()
	isRO("MOVE", err)
	isRO("CREATE", c.Create("New", nil).Wait())
	isRO("DELETE", c.Delete("Other").Wait())
	isRO("RENAME", c.Rename("Other", "Else", nil).Wait())
	app := c.Append("INBOX", int64(len(plainMsg)), nil)
	app.Write([]byte(plainMsg))
	app.Close()
	_, err = app.Wait()
	isRO("APPEND", err)

	after := e.files("INBOX")
	if len(after) != len(before) {
		t.Fatalf("messages changed: %d -> %d", len(before), len(after))
	}
	for k, en := range before {
		if after[k].Name != en.Name {
			t.Errorf("%s renamed on a read-only server", k)
		}
	}
	if len(e.files("Other")) != 0 {
		t.Error("Other changed")
	}
}

func TestStoreRenamesFile(t *testing.T) {
	e := newEnv(t, nil)
	en := e.deliver("INBOX", plainMsg, 0, time.Time{})
	c := e.dial(nil)
	_, err := c.Select("INBOX", nil).Wait()
	must(t, err)

	msgs, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered, "$Forwarded", "$Junk"}}, nil).Collect()
	must(t, err)
	if len(msgs) != 1 || flagSet(msgs[0].Flags) != "FPR" || !hasKeyword(msgs[0].Flags, "$Junk") {
		t.Fatalf("STORE +FLAGS answered %v", msgs)
	}
	if got := e.files("INBOX")[en.Key]; got.Name != en.Key+":2,FPRa" || got.Dir != "cur" {
		t.Errorf("file is %s/%s", got.Dir, got.Name)
	}
	msgs, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	must(t, err)
	if flagSet(msgs[0].Flags) != "PR" {
		t.Errorf("-FLAGS: %v", msgs[0].Flags)
	}
	must(t, c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: []imap.Flag{imap.FlagSeen, imap.FlagDraft}}, nil).Close())
	if got := e.files("INBOX")[en.Key]; got.Name != en.Key+":2,DS" { // FLAGS replaces keywords too
		t.Errorf("after FLAGS.SILENT file is %s", got.Name)
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t, nil)
	e.folder("Sent")
	c := e.dial(nil)
	wire := model.ToCRLF([]byte(oddMsg))
	date := time.Date(2023, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	app := c.Append("Sent", int64(len(wire)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
	_, err := app.Write(wire)
	must(t, err)
	must(t, app.Close())
	data, err := app.Wait()
	must(t, err)
	if data.UID != 1 || data.UIDValidity == 0 {
		t.Errorf("APPENDUID %+v", data)
	}
	files := e.files("Sent")
	if len(files) != 1 {
		t.Fatalf("%d files", len(files))
	}
	for k, en := range files {
		b, _, err := e.folder("Sent").ReadFile(k)
		must(t, err)
		if string(b) != oddMsg {
			t.Errorf("stored %q, want %q", b, oddMsg)
		}
		if en.Flags != model.FlagSeen || !en.ModTime.Equal(date) {
			t.Errorf("flags %v mtime %v", en.Flags, en.ModTime)
		}
	}
	// APPEND to a missing folder: TRYCREATE.
	app = c.Append("Nope", 4, nil)
	app.Write([]byte("a\r\n\r"))
	app.Close()
	_, err = app.Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeTryCreate {
		t.Errorf("APPEND to missing folder: %v", err)
	}
	st, err := c.Status("Sent", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true}).Wait()
	must(t, err)
	if *st.NumMessages != 1 || st.UIDNext != 2 || *st.NumUnseen != 0 || *st.Size != int64(len(wire)) || st.UIDValidity != data.UIDValidity {
		t.Errorf("STATUS %+v", st)
	}
}

func TestCopyMoveExpunge(t *testing.T) {
	e := newEnv(t, nil)
	e.folder("Archive/2024")
	for i := 0; i < 5; i++ {
		e.deliver("INBOX", strings.Replace(plainMsg, "hello world", "message "+string(rune('A'+i)), 1), model.Flags(0), time.Time{})
	}
	c := e.dial(nil)
	_, err := c.Select("INBOX", nil).Wait()
	must(t, err)

	cp, err := c.Copy(imap.SeqSetNum(1, 2), "Archive/2024").Wait()
	must(t, err)
	if cp.SourceUIDs.String() != "1:2" || cp.DestUIDs.String() != "1:2" {
		t.Errorf("COPYUID %v %v", cp.SourceUIDs, cp.DestUIDs)
	}
	mv, err := c.Move(imap.UIDSetNum(3, 5), "Archive/2024").Wait()
	must(t, err)
	if mv.SourceUIDs.String() != "3,5" || mv.DestUIDs.String() != "3:4" {
		t.Errorf("MOVE COPYUID %v %v", mv.SourceUIDs, mv.DestUIDs)
	}
	if n := len(e.files("INBOX")); n != 3 {
		t.Errorf("INBOX has %d files after MOVE", n)
	}
	if n := len(e.files("Archive/2024")); n != 4 {
		t.Errorf("archive has %d files", n)
	}
	// Moved and copied content is identical.
	arch := e.bodies("Archive/2024")
	for _, b := range arch {
		if !strings.HasPrefix(b, "From: carol") {
			t.Errorf("archived %q", b)
		}
	}

	// INBOX now has UIDs 1, 2, 4 as seq 1..3. Delete 1 and 4, UID EXPUNGE only 4.
	must(t, c.Store(imap.SeqSetNum(1, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	exp, err := c.UIDExpunge(imap.UIDSetNum(4)).Collect()
	must(t, err)
	if len(exp) != 1 || exp[0] != 3 {
		t.Errorf("UID EXPUNGE gave %v", exp)
	}
	exp, err = c.Expunge().Collect()
	must(t, err)
	if len(exp) != 1 || exp[0] != 1 {
		t.Errorf("EXPUNGE gave %v", exp)
	}
	if n := len(e.files("INBOX")); n != 1 {
		t.Errorf("INBOX has %d files after EXPUNGE", n)
	}
	uids, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	must(t, err)
	if got := uids.AllUIDs(); len(got) != 1 || got[0] != 2 {
		t.Errorf("left %v", got)
	}
}

func TestCreateDeleteRename(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(nil)
	must(t, c.Create("Projects", nil).Wait())
	must(t, c.Create("Projects/Alpha", nil).Wait())
	if err := c.Create("Projects", nil).Wait(); err == nil {
		t.Error("CREATE of an existing folder succeeded")
	}
	app := c.Append("Projects/Alpha", int64(len(plainMsg)), nil)
	app.Write([]byte(plainMsg))
	app.Close()
	_, err := app.Wait()
	must(t, err)
	must(t, c.Subscribe("Projects/Alpha").Wait())

	sel, err := c.Select("Projects/Alpha", nil).Wait()
	must(t, err)
	oldValidity := sel.UIDValidity
	must(t, c.Unselect().Wait())

	must(t, c.Rename("Projects", "Done", nil).Wait())
	if _, err := os.Stat(filepath.Join(e.root, ".Done.Alpha", "cur")); err != nil {
		t.Errorf("child not renamed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, ".Projects")); !os.IsNotExist(err) {
		t.Errorf("old folder still there: %v", err)
	}
	if len(e.bodies("Done/Alpha")) != 1 {
		t.Error("message lost in rename")
	}
	sel, err = c.Select("Done/Alpha", nil).Wait()
	must(t, err)
	if sel.UIDValidity == oldValidity || sel.NumMessages != 1 {
		t.Errorf("after rename: %+v (old validity %d)", sel, oldValidity)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	must(t, err)
	if len(subs) != 1 || subs[0].Mailbox != "Done/Alpha" {
		t.Errorf("subscriptions after rename: %v", subs)
	}
	must(t, c.Unselect().Wait())
	must(t, c.Delete("Done/Alpha").Wait())
	if _, err := os.Stat(filepath.Join(e.root, ".Done.Alpha")); !os.IsNotExist(err) {
		t.Errorf("delete left %v", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	if err := c.Rename("INBOX", "X", nil).Wait(); err == nil {
		t.Error("RENAME INBOX succeeded")
	}
}

func TestCloseExpungesSilently(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver("INBOX", plainMsg, model.FlagTrashed, time.Time{})
	keep := e.deliver("INBOX", plainMsg, 0, time.Time{})
	c := e.dial(nil)
	_, err := c.Select("INBOX", nil).Wait()
	must(t, err)
	must(t, c.UnselectAndExpunge().Wait())
	files := e.files("INBOX")
	if len(files) != 1 || files[keep.Key].Key != keep.Key {
		t.Errorf("after CLOSE: %v", files)
	}
}
