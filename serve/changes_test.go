package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/model"
)

func uidsOf(t *testing.T, data *imap.SearchData) []imap.UID {
	t.Helper()
	u := data.AllUIDs()
	return u
}

func TestSearch(t *testing.T) {
	e := newEnv(t, nil)
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 12, 0, 0, 0, time.UTC) }
	msgs := []struct {
		body  string
		flags model.Flags
		date  time.Time
	}{
		// UID 1
		{"From: Ann <ann@example.org>\nTo: bob@example.org\nCc: carol@example.org\nSubject: Quarterly report\nDate: Mon, 01 Jan 2024 09:00:00 +0000\nX-Tag: blue\n\nThe numbers are UP this quarter.\n", model.FlagSeen, d(2024, 1, 1)},
		// UID 2: quoted-printable body, encoded subject
		{"From: bob@example.org\nTo: ann@example.org\nSubject: =?utf-8?q?R=C3=A9sum=C3=A9?=\nDate: Fri, 15 Mar 2024 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nJ'ai envoy=C3=A9 le caf=C3=A9 fr=\nais.\n", model.FlagFlagged, d(2024, 3, 15)},
		// UID 3: multipart with base64 text part and an attachment
		{"From: carol@example.org\nTo: ann@example.org\nBcc: secret@example.org\nSubject: photos\nDate: Sat, 20 Apr 2024 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGlkZGVuIHRyZWFzdXJlCg==\n--XX\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\nbm90IHRleHQgbmVlZGxl\n--XX--\n", model.FlagTrashed | model.FlagSeen, d(2024, 4, 20)},
		// UID 4: no Date header, latin1 body
		{"From: dave@example.org\nSubject: latin\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\nd\xe9j\xe0 vu\n" + string(make([]byte, 0)), 0, d(2024, 5, 1)},
	}
	for _, m := range msgs {
		e.deliver("INBOX", m.body, m.flags, m.date)
	}
	c := e.dial(nil)
	_, err := c.Select("INBOX", nil).Wait()
	must(t, err)

	day := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC) }
	size3 := int64(len(model.ToCRLF([]byte(msgs[2].body))))
	cases := []struct {
		name string
		c    imap.SearchCriteria
		want string
	}{
		{"all", imap.SearchCriteria{}, "1:4"},
		{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, "1,3"},
		{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, "2,4"},
		{"deleted", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, "3"},
		{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"$Junk"}}, ""},
		{"not keyword", imap.SearchCriteria{NotFlag: []imap.Flag{"$Junk"}}, "1:4"},
		{"from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "ANN"}}}, "1"},
		{"to", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: "ann@"}}}, "2:3"},
		{"cc", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Cc", Value: "carol"}}}, "1"},
		{"bcc", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Bcc", Value: "secret"}}}, "3"},
		{"subject decoded", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "résumé"}}}, "2"},
		{"header exists", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "X-Tag", Value: ""}}}, "1"},
		{"header value", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "X-Tag", Value: "BLU"}}}, "1"},
		{"body plain", imap.SearchCriteria{Body: []string{"numbers are up"}}, "1"},
		{"body qp", imap.SearchCriteria{Body: []string{"café frais"}}, "2"},
		{"body base64", imap.SearchCriteria{Body: []string{"hidden TREASURE"}}, "3"},
		{"body skips attachments", imap.SearchCriteria{Body: []string{"needle"}}, ""},
		{"body latin1", imap.SearchCriteria{Body: []string{"déjà"}}, "4"},
		{"body not header", imap.SearchCriteria{Body: []string{"Quarterly"}}, ""},
		{"text header", imap.SearchCriteria{Text: []string{"quarterly"}}, "1"},
		{"text body", imap.SearchCriteria{Text: []string{"treasure"}}, "3"},
		{"since", imap.SearchCriteria{Since: day(2024, 3, 15)}, "2:4"},
		{"before", imap.SearchCriteria{Before: day(2024, 3, 15)}, "1"},
		{"on", imap.SearchCriteria{Since: day(2024, 4, 20), Before: day(2024, 4, 21)}, "3"},
		{"sentsince", imap.SearchCriteria{SentSince: day(2024, 3, 1)}, "2:3"},
		{"sentbefore", imap.SearchCriteria{SentBefore: day(2024, 3, 15)}, "1"},
		{"larger", imap.SearchCriteria{Larger: size3 - 1}, "3"},
		{"smaller", imap.SearchCriteria{Smaller: size3}, "1:2,4"},
		{"uid", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(2, 4)}}, "2,4"},
		{"uid star", imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: 3, Stop: 0}}}}, "3:4"},
		{"seq", imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(1, 3)}}, "1,3"},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}, "2,4"},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{imap.FlagFlagged}}, {Flag: []imap.Flag{imap.FlagDeleted}}}}}, "2:3"},
		{"and", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}, Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "photos"}}}, "3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			crit := tc.c
			data, err := c.UIDSearch(&crit, nil).Wait()
			must(t, err)
			var got imap.UIDSet
			for _, u := range uidsOf(t, data) {
				got.AddNum(u)
			}
			if got.String() != tc.want {
				t.Errorf("UID SEARCH %s = %q, want %q", tc.name, got.String(), tc.want)
			}
		})
	}
	// Sequence-number SEARCH.
	data, err := c.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	must(t, err)
	if got := data.AllSeqNums(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("SEARCH SEEN = %v", got)
	}
}

func TestTwoSessions(t *testing.T) {
	var dbg syncBuf
	e := newEnv(t, func(o *Options) { o.DebugWriter = &dbg })
	defer func() {
		if t.Failed() {
			t.Log(dbg.String())
		}
	}()
	for i := 0; i < 3; i++ {
		e.deliver("INBOX", plainMsg, 0, time.Time{})
	}
	var rb recorder
	a := e.dial(nil)
	b := e.dial(&rb)
	_, err := a.Select("INBOX", nil).Wait()
	must(t, err)
	_, err = b.Select("INBOX", nil).Wait()
	must(t, err)

	must(t, a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close())
	must(t, b.Noop().Wait())
	// imapclient hands unilateral FETCH to the handler in a goroutine.
	waitFor(t, "B to see the flags of 2", 2*time.Second, func() bool {
		_, _, fetches := rb.snapshot()
		return flagSet(fetches[2]) == "F"
	})

	app := a.Append("INBOX", int64(len(plainMsg)), nil)
	app.Write([]byte(plainMsg))
	app.Close()
	_, err = app.Wait()
	must(t, err)
	must(t, a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	_, err = a.Expunge().Collect()
	must(t, err)
	rb.reset()
	must(t, b.Noop().Wait())
	exp, exists, _ := rb.snapshot()
	if len(exp) != 1 || exp[0] != 1 {
		t.Errorf("B expunges %v", exp)
	}
	if len(exists) != 1 || exists[0] != 3 {
		t.Errorf("B exists %v", exists)
	}
	// B's numbering now matches A's.
	ma, err := a.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true}).Collect()
	must(t, err)
	mbb, err := b.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true}).Collect()
	must(t, err)
	if len(ma) != 3 || len(mbb) != 3 {
		t.Fatalf("fetched %d and %d", len(ma), len(mbb))
	}
	for i := range ma {
		if ma[i].UID != mbb[i].UID || ma[i].SeqNum != mbb[i].SeqNum {
			t.Errorf("seq %d: A uid %d, B uid %d", i+1, ma[i].UID, mbb[i].UID)
		}
	}
}

// TestDiskChanges: files added, renamed and removed behind serve's back
// are announced on NOOP and during IDLE.
func TestDiskChanges(t *testing.T) {
	e := newEnv(t, nil)
	f := e.folder("INBOX")
	e1 := e.deliver("INBOX", plainMsg, 0, time.Time{})
	e2 := e.deliver("INBOX", plainMsg, 0, time.Time{})
	var rec recorder
	c := e.dial(&rec)
	sel, err := c.Select("INBOX", nil).Wait()
	must(t, err)
	if sel.NumMessages != 2 {
		t.Fatal(sel.NumMessages)
	}

	// NOOP: a new file, a renamed one, a removed one.
	e.deliver("INBOX", plainMsg, 0, time.Time{})
	_, err = f.SetFlags(e2.Key, model.FlagSeen|model.FlagReplied)
	must(t, err)
	must(t, f.Remove(e1.Key))
	must(t, c.Noop().Wait())
	exp, exists, _ := rec.snapshot()
	if len(exp) != 1 || exp[0] != 1 {
		t.Errorf("NOOP expunges %v", exp)
	}
	if len(exists) != 1 || exists[0] != 2 {
		t.Errorf("NOOP exists %v", exists)
	}
	waitFor(t, "FETCH FLAGS on NOOP", 2*time.Second, func() bool {
		_, _, fetches := rec.snapshot()
		return flagSet(fetches[1]) == "RS"
	})
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	must(t, err)
	if len(msgs) != 2 || msgs[0].UID != 2 || msgs[1].UID != 3 {
		t.Fatalf("after NOOP: %+v", msgs)
	}

	// IDLE.
	rec.reset()
	idle, err := c.Idle()
	must(t, err)
	e4 := e.deliver("INBOX", plainMsg, 0, time.Time{})
	waitFor(t, "EXISTS during IDLE", 5*time.Second, func() bool {
		_, exists, _ := rec.snapshot()
		return len(exists) > 0 && exists[len(exists)-1] == 3
	})
	_, err = f.SetFlags(e4.Key, model.FlagFlagged)
	must(t, err)
	waitFor(t, "FETCH FLAGS during IDLE", 5*time.Second, func() bool {
		_, _, fetches := rec.snapshot()
		return flagSet(fetches[3]) == "F"
	})
	must(t, f.Remove(e2.Key))
	waitFor(t, "EXPUNGE during IDLE", 5*time.Second, func() bool {
		exp, _, _ := rec.snapshot()
		return len(exp) == 1 && exp[0] == 1
	})
	must(t, idle.Close())
	must(t, idle.Wait())
	msgs, err = c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{UID: true}).Collect()
	must(t, err)
	if len(msgs) != 2 || msgs[0].UID != 3 || msgs[1].UID != 4 {
		t.Errorf("after IDLE: %+v", msgs)
	}
}

// TestUIDsStable: UIDs survive restarts and are never reused.
func TestUIDsStable(t *testing.T) {
	e := newEnv(t, nil)
	var keys []string
	for i := 0; i < 3; i++ {
		keys = append(keys, e.deliver("INBOX", fmt.Sprintf("Subject: %d\n\nbody\n", i), 0, time.Time{}).Key)
	}
	fetchUIDs := func() (uint32, map[imap.UID]string) {
		c := e.dial(nil)
		defer c.Close()
		sel, err := c.Select("INBOX", nil).Wait()
		must(t, err)
		sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7, 8, 9), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		must(t, err)
		m := map[imap.UID]string{}
		for _, msg := range msgs {
			m[msg.UID] = string(msg.FindBodySection(sec))
		}
		return sel.UIDValidity, m
	}
	v1, m1 := fetchUIDs()
	if len(m1) != 3 {
		t.Fatal(m1)
	}
	e.restart()
	// Change flags and remove one while the server is down.
	f := e.folder("INBOX")
	_, err := f.SetFlags(keys[1], model.FlagSeen)
	must(t, err)
	e.stop()
	must(t, f.Remove(keys[2]))
	e.start()
	v2, m2 := fetchUIDs()
	if v1 != v2 {
		t.Errorf("UIDVALIDITY changed %d -> %d", v1, v2)
	}
	if len(m2) != 2 || m2[1] != m1[1] || m2[2] != m1[2] {
		t.Errorf("UIDs moved: %v -> %v", m1, m2)
	}
	e.deliver("INBOX", "Subject: new\n\nbody\n", 0, time.Time{})
	e.restart()
	_, m3 := fetchUIDs()
	if m3[4] != "Subject: new\r\n\r\n" || m3[3] != "" {
		t.Errorf("new message did not get UID 4 (UID 3 must not be reused): %v", m3)
	}
}

func TestIndexInUse(t *testing.T) {
	e := newEnv(t, nil)
	_, err := New(e.opts)
	if !errors.Is(err, ErrIndexInUse) {
		t.Fatalf("second server: %v, want ErrIndexInUse", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, DefaultIndexName)); err != nil {
		t.Fatal(err)
	}
	folders, err := e.md.Folders()
	must(t, err)
	if len(folders) != 1 || folders[0] != "INBOX" {
		t.Errorf("the index shows up as a folder: %v", folders)
	}
}

// TestConcurrentDelivery: a goroutine delivers into the Maildir while
// clients poll and IDLE; every message is seen once, with increasing
// UIDs, and nothing panics (run with -race).
func TestConcurrentDelivery(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PollInterval = 20 * time.Millisecond })
	f := e.folder("INBOX")
	const n = 60
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ent, err := f.Deliver([]byte(fmt.Sprintf("Subject: %d\n\nx\n", i)), 0, time.Time{})
			if err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 {
				f.SetFlags(ent.Key, model.FlagSeen)
			}
			if i%7 == 0 {
				f.Remove(ent.Key)
			}
		}
	}()
	var idleRec recorder
	idler := e.dial(&idleRec)
	_, err := idler.Select("INBOX", nil).Wait()
	must(t, err)
	idle, err := idler.Idle()
	must(t, err)

	poller := e.dial(nil)
	_, err = poller.Select("INBOX", nil).Wait()
	must(t, err)
	seen := map[imap.UID]string{}
	check := func() {
		msgs, err := poller.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
		must(t, err)
		var last imap.UID
		for _, m := range msgs {
			if m.UID <= last {
				t.Fatalf("UIDs out of order: %d after %d", m.UID, last)
			}
			last = m.UID
			if s, ok := seen[m.UID]; ok && s != m.Envelope.Subject {
				t.Fatalf("UID %d reused: %q then %q", m.UID, s, m.Envelope.Subject)
			}
			seen[m.UID] = m.Envelope.Subject
		}
	}
	for i := 0; i < 30; i++ {
		must(t, poller.Noop().Wait())
		check()
	}
	wg.Wait()
	must(t, poller.Noop().Wait())
	check()
	must(t, idle.Close())
	must(t, idle.Wait())
	want := n - (n+6)/7
	st, err := poller.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err == nil && int(*st.NumMessages) != want {
		t.Errorf("STATUS says %d messages, want %d", *st.NumMessages, want)
	}
	msgs, err := idler.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
	must(t, err)
	if len(msgs) != want {
		t.Errorf("idler sees %d messages, want %d", len(msgs), want)
	}
	subjects := map[string]bool{}
	for _, s := range seen {
		if subjects[s] {
			t.Errorf("subject %q under two UIDs", s)
		}
		subjects[s] = true
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
