package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// localKeywords returns the keyword names of message key's file.
func localKeywords(t *testing.T, f *maildir.Folder, key string) model.Keywords {
	t.Helper()
	kw, err := f.Keywords()
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.Lookup(key)
	if err != nil {
		t.Fatal(err)
	}
	return model.NewKeywords(kw.NamesOf(en.Info)...)
}

// setLocalKeywords gives message key exactly the keywords names, the way
// mutt or Dovecot's LDA would: letters from dovecot-keywords, extended
// when needed.
func setLocalKeywords(t *testing.T, f *maildir.Folder, key string, names ...string) {
	t.Helper()
	kw, err := f.AddKeywords(names...)
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.Lookup(key)
	if err != nil {
		t.Fatal(err)
	}
	letters, _ := kw.LettersOf(names)
	if _, err := f.SetInfo(key, en.Flags, letters, kw.Letters()); err != nil {
		t.Fatal(err)
	}
}

// serverKeywords returns the keywords of every message of folder by UID.
func serverKeywords(t *testing.T, fx *fixture, folder string) map[uint32]model.Keywords {
	t.Helper()
	out := map[uint32]model.Keywords{}
	for _, m := range fx.srv.Messages(t, folder) {
		out[m.UID] = model.KeywordsFromIMAP(m.Flags)
	}
	return out
}

// pairKey returns the Maildir key paired with uid.
func pairKey(t *testing.T, fx *fixture, folder string, uid uint32) string {
	t.Helper()
	db := openState(t, fx)
	defer db.Close()
	st, err := db.Load(folder)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Pairs {
		if uint32(p.UID) == uid {
			return p.Key
		}
	}
	t.Fatalf("folder %q: uid %d is not paired", folder, uid)
	return ""
}

// Issue 8 case 15: keywords ($Label1, Important, $Junk, NonJunk) are
// synced both ways with Dovecot's Maildir convention, merged keyword by
// keyword, carried by uploads, and compared by verify.
func TestKeywordsSyncBothWays(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("labelled on the server"))
	fx.srv.Save(t, "INBOX", testMsg("plain"))
	fx.srv.AddFlags(t, "INBOX", 1, "$Label1", "Important", `\Seen`)
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	k1, k2 := pairKey(t, fx, "INBOX", 1), pairKey(t, fx, "INBOX", 2)
	if got := localKeywords(t, inbox, k1); !got.Equal(model.NewKeywords("$Label1", "Important")) {
		t.Fatalf("downloaded keywords %v, want $Label1 Important", got)
	}
	fx.assertInSync(t)

	// Local changes go up: a keyword added, one removed.
	setLocalKeywords(t, inbox, k2, "$Junk")
	setLocalKeywords(t, inbox, k1, "$Label1")
	sum := fx.sync(t)
	if sum.FlagsToServer != 2 {
		t.Fatalf("summary %+v: want 2 messages changed on the server", sum)
	}
	kws := serverKeywords(t, fx, "INBOX")
	if !kws[1].Equal(model.Keywords{"$Label1"}) || !kws[2].Equal(model.Keywords{"$Junk"}) {
		t.Fatalf("server keywords %v", kws)
	}

	// Both sides change the same message: merged keyword by keyword.
	fx.srv.RemoveFlags(t, "INBOX", 1, "$Label1")
	fx.srv.AddFlags(t, "INBOX", 2, "NonJunk")
	setLocalKeywords(t, inbox, k1, "$Label1", "NonJunk")
	fx.sync(t)
	if got := localKeywords(t, inbox, k1); !got.Equal(model.Keywords{"NonJunk"}) {
		t.Fatalf("merged keywords of uid 1: %v, want NonJunk", got)
	}
	if got := localKeywords(t, inbox, k2); !got.Equal(model.NewKeywords("$Junk", "NonJunk")) {
		t.Fatalf("keywords of uid 2: %v, want $Junk NonJunk", got)
	}
	// A new local message carries its keywords in the APPEND.
	en := fx.deliver(t, "INBOX", testMsg("new with a label"), model.FlagSeen)
	setLocalKeywords(t, inbox, en.Key, "$Label2")
	if sum := fx.sync(t); sum.Uploaded != 1 {
		t.Fatalf("summary %+v", sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() {
		t.Fatalf("a run over synced keywords changed something: %+v", sum)
	}

	ctx := context.Background()
	rep, err := Verify(ctx, fx.acct, VerifyOptions{})
	if err != nil || len(rep.Differences) != 0 {
		t.Fatalf("verify in sync: %v %v", err, rep.Differences)
	}
	fx.srv.AddFlags(t, "INBOX", 1, "$Label3")
	rep, err = Verify(ctx, fx.acct, VerifyOptions{Quick: true})
	if err != nil || len(rep.Differences) != 1 || !strings.Contains(rep.Differences[0].What, "keywords differ: server $Label3 NonJunk, Maildir NonJunk") {
		t.Fatalf("verify: %v %v", err, rep.Differences)
	}
	fx.sync(t)
	fx.assertInSync(t)
}

// A keyword beyond the 26 letters a Maildir folder can name stays on the
// server, blocks nothing, is said once and is no difference for verify.
func TestKeywordBeyondTwentySixLettersStaysOnServer(t *testing.T) {
	fx := newFixture(t, nil)
	fx.srv.Save(t, "INBOX", testMsg("many labels"))
	var names []string
	for i := 0; i < maildir.MaxKeywords; i++ {
		names = append(names, "kw"+string(rune('a'+i)))
	}
	inbox, err := fx.md.CreateFolder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inbox.AddKeywords(names...); err != nil {
		t.Fatal(err)
	}
	fx.srv.AddFlags(t, "INBOX", 1, "kwa", "Overflow")
	sum := fx.sync(t)
	if !mentions(sum.Warnings, "Overflow") {
		t.Fatalf("no warning about the keyword left on the server: %q", sum.Warnings)
	}
	if got := localKeywords(t, inbox, pairKey(t, fx, "INBOX", 1)); !got.Equal(model.Keywords{"kwa"}) {
		t.Fatalf("local keywords %v", got)
	}
	sum = fx.sync(t)
	if sum.Changed() || mentions(sum.Warnings, "Overflow") {
		t.Fatalf("second run: %+v", sum)
	}
	if kws := serverKeywords(t, fx, "INBOX"); !kws[1].Equal(model.NewKeywords("kwa", "Overflow")) {
		t.Fatalf("the server lost a keyword: %v", kws[1])
	}
	rep, err := Verify(context.Background(), fx.acct, VerifyOptions{Quick: true})
	if err != nil || len(rep.Differences) != 0 {
		t.Fatalf("verify: %v %v", err, rep.Differences)
	}
	fx.assertInSync(t)
}

// On GNU Mailutils imap4d (PERMANENTFLAGS without \*) a keyword cannot be
// created: it stays in the Maildir, blocks nothing and is said once.
func TestUnkeptKeywordStaysLocal(t *testing.T) {
	acct, md := imap4dAccount(t)
	f, err := md.CreateFolder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.DeliverSync(testMsg("junk"), model.FlagSeen, timeNow())
	if err != nil {
		t.Fatal(err)
	}
	setLocalKeywords(t, f, en.Key, "$Junk")
	sum, err := run1(t, acct)
	if err != nil || sum.Uploaded != 1 || !mentions(sum.Warnings, "$Junk") {
		t.Fatalf("first run: %v %+v", err, sum)
	}
	for run := 2; run <= 3; run++ {
		sum, err = run1(t, acct)
		if err != nil || sum.Changed() || mentions(sum.Warnings, "$Junk") {
			t.Fatalf("run %d: %v %+v", run, err, sum)
		}
	}
	if got := localKeywords(t, f, en.Key); !got.Equal(model.Keywords{"$Junk"}) {
		t.Fatalf("the Maildir lost the keyword: %v", got)
	}
}
