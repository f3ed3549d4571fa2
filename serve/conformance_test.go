package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// These tests run the same raw IMAP script against a real Dovecot and
// against serve: each assertion holds for both, so a failure on serve
// alone is a difference from Dovecot.

const crlfMsg = "From: carol@example.org\r\nTo: alice@example.org\r\nSubject: hello\r\nDate: Wed, 10 Jan 2024 12:00:00 +0100\r\nMessage-ID: <m1@example.org>\r\n\r\nhello world\r\n"

func TestConformanceKeywords(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		c.ok(c.cmd("CREATE Other"))
		c.ok(c.appendMsg("INBOX", "", crlfMsg))
		c.ok(c.appendMsg("INBOX", `\Seen $appended`, crlfMsg))
		sel := c.ok(c.cmd("SELECT INBOX"))
		c.want(sel, `^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]`)
		c.want(sel, `^\* FLAGS \(.*\$appended.*\)`)

		st := c.ok(c.cmd("STORE 1 +FLAGS ($hello $world)"))
		c.want(st, `^\* 1 FETCH \(.*FLAGS \(.*\$hello \$world.*\)`)
		// A keyword new to the folder is announced in FLAGS.
		c.want(st, `^\* FLAGS \(.*\$hello.*\)`)
		f := c.ok(c.cmd("FETCH 1:2 FLAGS"))
		c.want(f, `^\* 1 FETCH \(.*FLAGS \([^)]*\$hello \$world`)
		c.want(f, `^\* 2 FETCH \(.*FLAGS \([^)]*\$appended`)

		s := c.ok(c.cmd("SEARCH KEYWORD $hello"))
		c.want(s, `^\* SEARCH 1$`)
		s = c.ok(c.cmd("SEARCH UNKEYWORD $hello"))
		c.want(s, `^\* SEARCH 2$`)
		s = c.ok(c.cmd("SEARCH KEYWORD $HELLO"))
		c.want(s, `^\* SEARCH 1$`)

		st = c.ok(c.cmd("STORE 1 -FLAGS ($world)"))
		c.wantNot(st, `\$world`)
		c.want(st, `\$hello`)

		// STORE +FLAGS NIL keeps the flags (and adds a keyword "NIL", as
		// Dovecot does: unparenthesised, NIL is a flag name).
		st = c.ok(c.cmd("STORE 1 +FLAGS NIL"))
		c.want(st, `^\* 1 FETCH \(.*FLAGS \([^)]*\$hello`)
		st = c.ok(c.cmd("STORE 1 -FLAGS NIL"))
		c.want(st, `^\* 1 FETCH \(.*FLAGS \([^)]*\$hello`)
		c.wantNot(st, `NIL`)

		// COPY keeps keywords.
		c.ok(c.cmd("COPY 1:2 Other"))
		c.ok(c.cmd("SELECT Other"))
		f = c.ok(c.cmd("FETCH 1:2 FLAGS"))
		c.want(f, `^\* 1 FETCH \(.*FLAGS \([^)]*\$hello`)
		c.want(f, `^\* 2 FETCH \(.*FLAGS \([^)]*\$appended`)

		// MOVE keeps them too.
		c.ok(c.cmd("MOVE 1 INBOX"))
		c.ok(c.cmd("SELECT INBOX"))
		s = c.ok(c.cmd("SEARCH KEYWORD $hello"))
		c.want(s, `^\* SEARCH 1 3$`)
	})
}

func TestConformanceRecent(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		a := tg.dial(t)
		a.ok(a.appendMsg("INBOX", "", crlfMsg))
		a.ok(a.appendMsg("INBOX", `\Seen`, crlfMsg))

		st := a.ok(a.cmd("STATUS INBOX (MESSAGES RECENT)"))
		a.want(st, `^\* STATUS INBOX \(MESSAGES 2 RECENT 2\)`)
		// EXAMINE shows them as recent and does not claim them.
		ex := a.ok(a.cmd("EXAMINE INBOX"))
		a.want(ex, `^\* 2 RECENT`)
		a.ok(a.cmd("CLOSE"))

		sel := a.ok(a.cmd("SELECT INBOX"))
		a.want(sel, `^\* 2 RECENT`)
		s := a.ok(a.cmd("SEARCH RECENT"))
		a.want(s, `^\* SEARCH 1 2$`)
		s = a.ok(a.cmd("SEARCH NEW"))
		a.want(s, `^\* SEARCH 1$`)
		f := a.ok(a.cmd("FETCH 1 FLAGS"))
		a.want(f, `\\Recent`)

		// A second session no longer sees them as recent.
		b := tg.dial(t)
		st = b.ok(b.cmd("STATUS INBOX (RECENT)"))
		b.want(st, `RECENT 0\)`)
		sel = b.ok(b.cmd("SELECT INBOX"))
		b.want(sel, `^\* 0 RECENT`)
		s = b.ok(b.cmd("SEARCH RECENT"))
		b.want(s, `^\* SEARCH$`)

		// New mail: recent for the first session that sees it.
		c := tg.dial(t)
		c.ok(c.appendMsg("INBOX", "", crlfMsg))
		n := a.ok(a.cmd("NOOP"))
		a.want(n, `^\* 3 EXISTS`)
		a.want(n, `^\* 3 RECENT`)
		n = b.ok(b.cmd("NOOP"))
		b.want(n, `^\* 3 EXISTS`)
		b.wantNot(n, `RECENT`) // Dovecot reports RECENT only when it grows
		s = a.ok(a.cmd("SEARCH RECENT"))
		a.want(s, `^\* SEARCH 1 2 3$`)
	})
}

func TestSelectMovesNewToCur(t *testing.T) {
	e := newEnv(t, nil)
	en := e.deliver("INBOX", plainMsg, 0, time.Time{})
	c := dialRaw(t, "serve", e.addr)
	c.ok(c.cmd(`LOGIN alice "s3cret pass"`))
	c.ok(c.cmd("EXAMINE INBOX"))
	if got := e.files("INBOX")[en.Key]; got.Dir != "new" {
		t.Errorf("EXAMINE moved the message to %s/", got.Dir)
	}
	c.ok(c.cmd("SELECT INBOX"))
	if got := e.files("INBOX")[en.Key]; got.Dir != "cur" || !strings.HasSuffix(got.Name, ":2,") {
		t.Errorf("after SELECT the message is %s/%s, want cur/<key>:2,", got.Dir, got.Name)
	}
}

// Issue 13 points 10 and 11: ID before and after login, an unknown
// command before login answered BAD without BYE, and one LITERAL+.
func TestConformancePreAuth(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := dialRaw(t, tg.name, tg.addr)
		if !strings.Contains(c.Greeting, "LITERAL+") || strings.Contains(c.Greeting, "LITERAL-") {
			t.Errorf("%s: greeting %q: want LITERAL+ and not LITERAL-", tg.name, c.Greeting)
		}
		l := c.cmd("FOO")
		c.want(l, `^T\d+ BAD `)
		c.wantNot(l, `BYE`)
		c.want(c.ok(c.cmd("ID NIL")), `^\* ID \("name" "[^"]+"\)$`)
		c.want(c.ok(c.cmd(`ID ("name" "test" "version" NIL)`)), `^\* ID \("name" "[^"]+"\)$`)
		c.ok(c.cmd(fmt.Sprintf("LOGIN %q %q", tg.user, tg.pass)))
		c.want(c.ok(c.cmd("ID NIL")), `^\* ID \(`)
		caps := c.want(c.ok(c.cmd("CAPABILITY")), `^\* CAPABILITY `)
		if strings.Count(caps, "LITERAL") != 1 || !strings.Contains(caps, "LITERAL+") {
			t.Errorf("%s: %q: want LITERAL+ once and no LITERAL-", tg.name, caps)
		}
		for _, cp := range []string{" ID", "IDLE", "UIDPLUS", "MOVE"} {
			if !strings.Contains(caps, cp) {
				t.Errorf("%s: %q lacks %s", tg.name, caps, cp)
			}
		}
	})
}

// Issue 13 points 4 and 5: a binary APPEND (NUL, bare CR, bare LF) and
// how its content is fetched: both keep NUL and bare CR, turn the bare
// LF into CRLF, report BINARY.SIZE equal to RFC822.SIZE, send BINARY[]
// as literal8 with the NUL, BODY[] with 0x80 in place of the NUL (a
// plain literal may not hold NUL), and a partial BINARY with its origin.
func TestConformanceBinary(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		msg := "Subject: bin\r\nContent-Type: text/plain\r\n\r\nnul\x00here\rcr\nlf\r\n"
		c.write(fmt.Sprintf("A1 APPEND INBOX ~{%d}\r\n", len(msg)))
		if l := c.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("%s: APPEND: %q", tg.name, l)
		}
		c.write(msg + "\r\n")
		c.ok(c.until("A1"))
		c.ok(c.cmd("SELECT INBOX"))
		stored := "Subject: bin\r\nContent-Type: text/plain\r\n\r\nnul\x00here\rcr\r\nlf\r\n"
		l := c.ok(c.cmd("FETCH 1 (RFC822.SIZE BINARY.SIZE[] BINARY.PEEK[] BODY.PEEK[])"))
		c.want(l, fmt.Sprintf(`RFC822\.SIZE %d[ )]`, len(stored)))
		c.want(l, fmt.Sprintf(`BINARY\.SIZE\[\] %d[ )]`, len(stored)))
		c.wantSub(l, fmt.Sprintf("BINARY[] ~{%d}\r\n%s", len(stored), stored))
		c.wantSub(l, fmt.Sprintf("BODY[] {%d}\r\n%s", len(stored), strings.Replace(stored, "\x00", "\x80", 1)))
		l = c.ok(c.cmd("FETCH 1 (BINARY.PEEK[1]<0.7> BINARY.SIZE[1])"))
		c.wantSub(l, "BINARY[1]<0> ~{7}\r\nnul\x00her")
		c.want(l, `BINARY\.SIZE\[1\] 17[ )]`)
	})
}

// Patch 2's limit: the tenth unknown command before login hangs up.
func TestUnknownCommandsPreAuthLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := dialRaw(t, "serve", e.addr)
	for i := 1; i < 10; i++ {
		l := c.cmd("FOO")
		c.wantNot(l, "BYE")
	}
	c.want(c.cmd("FOO"), `^T10 BAD`)
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after the tenth unknown command: %q, want BYE", l)
	}
}

// Issue 13 points 6 and 9: LIST-EXTENDED and LSUB as Dovecot answers
// them, and a LIST pattern that is not valid modified UTF-7.
func TestConformanceListExtended(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		for _, cmd := range []string{"CREATE A/B", "CREATE C", "CREATE Gone", "SUBSCRIBE A/B", "SUBSCRIBE C", "SUBSCRIBE Gone", "DELETE Gone"} {
			c.ok(c.cmd(cmd))
		}
		l := c.ok(c.cmd(`LIST (SUBSCRIBED) "" "*"`))
		c.want(l, `^\* LIST \(\\Subscribed\) "/" "?A/B"?$`)
		c.want(l, `^\* LIST \(\\Subscribed\) "/" "?C"?$`)
		c.want(l, `^\* LIST \(\\Subscribed \\NonExistent\) "/" "?Gone"?$`)
		c.wantNot(l, `INBOX`)

		l = c.ok(c.cmd(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`))
		c.want(l, `^\* LIST \(\\NonExistent\) "/" "?A"? \(CHILDINFO \("SUBSCRIBED"\)\)$`)
		c.want(l, `^\* LIST \(\\Subscribed\) "/" "?C"?$`)
		c.wantNot(l, `A/B`)

		l = c.ok(c.cmd(`LSUB "" "%"`))
		c.want(l, `^\* LSUB \(\\Noselect\) "/" "?A"?$`)
		c.want(l, `^\* LSUB \(\) "/" "?C"?$`)
		c.want(l, `^\* LSUB \(\) "/" "?Gone"?$`)
		l = c.ok(c.cmd(`LSUB "" "*"`))
		c.want(l, `^\* LSUB \(\) "/" "?A/B"?$`)
		c.wantNot(l, `"?A"?$`)

		l = c.ok(c.cmd(`LIST "" "*" RETURN (SUBSCRIBED CHILDREN)`))
		c.want(l, `^\* LIST \(.*\\Subscribed.*\) "/" "?A/B"?$`)
		c.wantNot(l, `Gone`)

		for _, p := range []string{`"&Jjo"`, `"a&ZZZ-b"`, `("&Jjo" "&")`} {
			l = c.ok(c.cmd(`LIST "" ` + p))
			if len(l) != 1 {
				t.Errorf("%s: LIST %s: %q, want OK and nothing", tg.name, p, l)
			}
		}
	})
}

const envMsg = "From: <@route.example:user@domain.org>\r\nTo: Group: a@b.c, d@e.f;, x@y.z\r\nCc: undisclosed-recipients:;, empty:;\r\nReply-To: <user-from (comment)@ (comment) domain.org>\r\nSubject: env\r\n\r\nbody\r\n"
const commentMsg = "From: <user-from (comment)@ (comment) domain.org>\r\nSubject: x\r\n\r\nbody\r\n"

// Issue 13 points 7 and 8: ENVELOPE groups and route addresses, SEARCH
// FROM on an address with comments.
func TestConformanceEnvelopeAndSearchFrom(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		c.ok(c.appendMsg("INBOX", "", envMsg))
		c.ok(c.appendMsg("INBOX", "", commentMsg))
		c.ok(c.cmd("SELECT INBOX"))
		l := c.ok(c.cmd("FETCH 1:2 ENVELOPE"))
		// From, Sender and Reply-To of the route address. Dovecot also
		// gives the route ("@route.example") where serve gives NIL: see
		// address.go.
		c.want(l, `^\* 1 FETCH \(.*ENVELOPE \(NIL "env" \(\(NIL (NIL|"@route.example") "user" "domain.org"\)\) \(\(NIL (NIL|"@route.example") "user" "domain.org"\)\) \(\(NIL NIL "user-from" "domain.org"\)\) `)
		c.wantSub(l, `((NIL NIL "Group" NIL)(NIL NIL "a" "b.c")(NIL NIL "d" "e.f")(NIL NIL NIL NIL)(NIL NIL "x" "y.z"))`)
		c.wantSub(l, `((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)(NIL NIL "empty" NIL)(NIL NIL NIL NIL))`)
		c.wantSub(l, `ENVELOPE (NIL "x" ((NIL NIL "user-from" "domain.org")) ((NIL NIL "user-from" "domain.org")) ((NIL NIL "user-from" "domain.org")) NIL NIL NIL NIL NIL)`)
		for q, want := range map[string]string{
			"user-from@domain.org": "* SEARCH 2",
			"user-from":            "* SEARCH 2",
			"domain.org":           "* SEARCH 1 2",
			"comment":              "* SEARCH",
		} {
			l = c.ok(c.cmd("SEARCH FROM " + q))
			if l[0] != want {
				t.Errorf("%s: SEARCH FROM %s: %q, want %q", tg.name, q, l[0], want)
			}
		}
	})
}

// CONDSTORE (RFC 7162), as far as sync uses it and a little more:
// HIGHESTMODSEQ in SELECT and STATUS, FETCH MODSEQ and CHANGEDSINCE,
// STORE UNCHANGEDSINCE with [MODIFIED].
func TestConformanceCondStore(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		c.ok(c.appendMsg("INBOX", "", crlfMsg))
		c.ok(c.appendMsg("INBOX", `\Seen`, crlfMsg))
		caps := c.want(c.ok(c.cmd("CAPABILITY")), `^\* CAPABILITY `)
		if !strings.Contains(caps, " CONDSTORE") {
			t.Errorf("%s: no CONDSTORE in %q", tg.name, caps)
		}
		sel := c.ok(c.cmd("SELECT INBOX (CONDSTORE)"))
		h := modSeqOf(t, c.want(sel, `^\* OK \[HIGHESTMODSEQ \d+\]`), `HIGHESTMODSEQ (\d+)`)
		l := c.ok(c.cmd(fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", h)))
		if len(l) != 1 {
			t.Errorf("%s: CHANGEDSINCE the highest: %q, want nothing", tg.name, l)
		}
		l = c.ok(c.cmd("STORE 1 +FLAGS (\\Flagged)"))
		m := modSeqOf(t, c.want(l, `^\* 1 FETCH \(.*MODSEQ \(\d+\).*\\Flagged`+"|"+`^\* 1 FETCH \(.*\\Flagged.*MODSEQ \(\d+\)`), `MODSEQ \((\d+)\)`)
		if m <= h {
			t.Errorf("%s: MODSEQ %d after a change, HIGHESTMODSEQ was %d", tg.name, m, h)
		}
		l = c.ok(c.cmd(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", h)))
		if len(l) != 2 {
			t.Errorf("%s: CHANGEDSINCE %d: %q, want message 1 only", tg.name, h, l)
		}
		c.want(l, fmt.Sprintf(`^\* 1 FETCH \(.*MODSEQ \(%d\)`, m))
		st := c.ok(c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
		c.want(st, fmt.Sprintf(`HIGHESTMODSEQ %d\)`, m))
		l = c.cmd(fmt.Sprintf("UID STORE 1 (UNCHANGEDSINCE %d) -FLAGS (\\Flagged)", m-1))
		c.want(l, `^T\d+ OK \[MODIFIED 1\]`)
		l = c.ok(c.cmd(fmt.Sprintf("UID STORE 1 (UNCHANGEDSINCE %d) -FLAGS (\\Flagged)", m)))
		c.wantNot(l, `MODIFIED`)
		c.want(l, `^\* 1 FETCH \(.*MODSEQ`)
	})
}

func modSeqOf(t *testing.T, line, pattern string) uint64 {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s in %q", pattern, line)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// threadMsgs is a small mailbox with replies, a forward, a lost parent
// and subjects that only agree once reduced to their base subject.
var threadMsgs = []string{
	"From: Bob <bob@b.org>\r\nSubject: Topic A\r\nMessage-ID: <a1@x>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nx\r\n",
	"From: alice@a.org\r\nSubject: Re: Topic A\r\nMessage-ID: <a2@x>\r\nIn-Reply-To: <a1@x>\r\nReferences: <a1@x>\r\nDate: Mon, 01 Jan 2024 11:00:00 +0000\r\n\r\nxx\r\n",
	"From: zed@z.org\r\nSubject: Other\r\nMessage-ID: <b1@x>\r\nDate: Mon, 01 Jan 2024 09:00:00 +0000\r\n\r\nxxxx\r\n",
	"From: carl@c.org\r\nSubject: RE: Topic A\r\nMessage-ID: <a3@x>\r\nReferences: <a1@x> <a2@x>\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\nxxx\r\n",
	"From: dora@d.org\r\nSubject: Fwd: Other\r\nMessage-ID: <b2@x>\r\nDate: Wed, 03 Jan 2024 10:00:00 +0000\r\n\r\nxxxxxxx\r\n",
	"From: eve@e.org\r\nSubject: Re: Lost\r\nMessage-ID: <c2@x>\r\nReferences: <missing@x>\r\nDate: Thu, 04 Jan 2024 10:00:00 +0000\r\n\r\nx\r\n",
	"From: fay@f.org\r\nSubject: Re: Lost\r\nMessage-ID: <c3@x>\r\nReferences: <missing@x>\r\nDate: Sun, 31 Dec 2023 10:00:00 +0000\r\n\r\nxxxxx\r\n",
	"From: Gil <gil@g.org>\r\nSubject: [list] Topic A\r\nMessage-ID: <a4@x>\r\nDate: Fri, 05 Jan 2024 10:00:00 +0000\r\n\r\nxxxxxx\r\n",
	"From: hal@h.org\r\nSubject: no date\r\nMessage-ID: <d1@x>\r\n\r\nx\r\n",
}

// SORT and THREAD answer exactly as Dovecot does.
func TestConformanceSortThread(t *testing.T) {
	cmds := []string{
		"SORT (SUBJECT) UTF-8 ALL",
		"SORT (REVERSE DATE) UTF-8 ALL",
		"SORT (FROM ARRIVAL) UTF-8 ALL",
		"SORT (SIZE REVERSE SUBJECT) UTF-8 ALL",
		"SORT (TO CC) UTF-8 ALL",
		"SORT (DATE) UTF-8 NOT FROM bob",
		"UID SORT (SUBJECT DATE) UTF-8 ALL",
		"THREAD ORDEREDSUBJECT UTF-8 ALL",
		"THREAD REFERENCES UTF-8 ALL",
		"UID THREAD REFERENCES UTF-8 SUBJECT topic",
	}
	answers := map[string][]string{}
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		caps := c.want(c.ok(c.cmd("CAPABILITY")), `^\* CAPABILITY `)
		for _, cp := range []string{" SORT", " THREAD=REFERENCES", " THREAD=ORDEREDSUBJECT"} {
			if !strings.Contains(caps, cp) {
				t.Errorf("%s: no%s in %q", tg.name, cp, caps)
			}
		}
		for _, m := range threadMsgs {
			c.ok(c.appendMsg("INBOX", "", m))
			time.Sleep(1100 * time.Millisecond / 10) // distinct arrival times
		}
		c.ok(c.cmd("SELECT INBOX"))
		for _, cmd := range cmds {
			l := c.ok(c.cmd(cmd))
			answers[tg.name] = append(answers[tg.name], cmd+" -> "+strings.Join(l[:len(l)-1], " | "))
		}
	})
	d, s := answers["dovecot"], answers["serve"]
	for i := range d {
		if i < len(s) && s[i] != d[i] {
			t.Errorf("serve:   %s\ndovecot: %s", s[i], d[i])
		}
	}
}

func TestBaseSubject(t *testing.T) {
	for in, want := range map[string]string{
		"Re: Topic":                    "topic",
		"RE: re: Fwd: Topic":           "topic",
		"Re[2]: Topic":                 "topic",
		"[list] Re: Topic (fwd)":       "topic",
		"[Fwd: Re: Topic]":             "topic",
		"  Topic   with   spaces ":     "topic with spaces",
		"[only a blob]":                "[only a blob]",
		"=?utf-8?q?R=C3=A9sum=C3=A9?=": "résumé",
	} {
		if got := baseSubject(in); got != want {
			t.Errorf("baseSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

// Keywords Dovecot wrote into its Maildir read back through serve, and
// the other way round: both use dovecot-keywords the same way, and a
// letter neither knows is kept.
func TestKeywordsInteropWithDovecot(t *testing.T) {
	d := dovecottest.Start(t, nil)
	c := dialRaw(t, "dovecot", d.Addr)
	c.ok(c.cmd(fmt.Sprintf("LOGIN %q %q", d.User, d.Password)))
	c.ok(c.appendMsg("INBOX", `$one $two`, crlfMsg))
	c.ok(c.appendMsg("INBOX", `\Flagged $two`, crlfMsg))
	c.ok(c.cmd("LOGOUT"))
	dmail := filepath.Join(d.Dir, "mail", d.User)
	kwFile, err := os.ReadFile(filepath.Join(dmail, "dovecot-keywords"))
	must(t, err)

	e := newEnv(t, nil)
	must(t, os.WriteFile(filepath.Join(e.root, "dovecot-keywords"), kwFile, 0o600))
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(dmail, sub))
		for _, en := range ents {
			b, err := os.ReadFile(filepath.Join(dmail, sub, en.Name()))
			must(t, err)
			name := en.Name()
			if strings.Contains(name, ":2,F") {
				name += "z" // a keyword letter no one has named
			}
			must(t, os.WriteFile(filepath.Join(e.root, sub, name), b, 0o600))
		}
	}
	s := dialRaw(t, "serve", e.addr)
	s.ok(s.cmd(fmt.Sprintf("LOGIN %q %q", testUser, testPass)))
	s.ok(s.cmd("SELECT INBOX"))
	l := s.ok(s.cmd("FETCH 1:2 FLAGS"))
	s.want(l, `^\* 1 FETCH \(.*FLAGS \([^)]*\$one \$two`)
	s.want(l, `^\* 2 FETCH \(.*FLAGS \(\\Flagged \$two`)
	s.want(s.ok(s.cmd("SEARCH KEYWORD $one")), `^\* SEARCH 1$`)
	s.ok(s.cmd("STORE 2 +FLAGS ($three)"))
	s.ok(s.cmd("STORE 2 -FLAGS ($two)"))
	var name string
	for _, en := range e.files("INBOX") {
		if en.Flags != 0 {
			name = en.Name
		}
	}
	kw, err := os.ReadFile(filepath.Join(e.root, "dovecot-keywords"))
	must(t, err)
	// Dovecot's numbering kept, $three added after it; z kept.
	if !strings.HasPrefix(string(kw), string(kwFile)) || !strings.Contains(string(kw), " $three\n") {
		t.Errorf("dovecot-keywords after serve added one:\n%s\nDovecot wrote:\n%s", kw, kwFile)
	}
	if !strings.HasSuffix(name, ":2,Fcz") {
		t.Errorf("message 2 is %s, want :2,Fcz ($three is c, z kept)", name)
	}
}

// A session that selected with CONDSTORE gets MODSEQ in the FETCH that
// announces another session's flag change (RFC 7162 3.2).
func TestCondStoreUnsolicitedModSeq(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		a := tg.dial(t)
		a.ok(a.appendMsg("INBOX", "", crlfMsg))
		a.ok(a.cmd("SELECT INBOX (CONDSTORE)"))
		b := tg.dial(t)
		b.ok(b.cmd("SELECT INBOX"))
		b.ok(b.cmd("STORE 1 +FLAGS (\\Flagged)"))
		l := a.ok(a.cmd("NOOP"))
		a.want(l, `^\* 1 FETCH \(.*\\Flagged.*MODSEQ \(\d+\)|^\* 1 FETCH \(.*MODSEQ \(\d+\).*\\Flagged`)
	})
}

func TestEnableCondStore(t *testing.T) {
	bothServers(t, func(t *testing.T, tg target) {
		c := tg.dial(t)
		c.ok(c.appendMsg("INBOX", "", crlfMsg))
		c.want(c.ok(c.cmd("ENABLE CONDSTORE")), `^\* ENABLED CONDSTORE`)
		c.ok(c.cmd("SELECT INBOX"))
		// A FETCH of FLAGS does not carry MODSEQ unless asked; STORE does.
		c.wantNot(c.ok(c.cmd("FETCH 1 FLAGS")), `MODSEQ`)
		c.want(c.ok(c.cmd("STORE 1 +FLAGS (\\Seen)")), `^\* 1 FETCH \(.*MODSEQ \(\d+\)`)
	})
}
