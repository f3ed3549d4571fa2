package migrate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/internal/imap4dtest"
	"github.com/mailsync/mailsync/model"
)

func connOpts(s *dovecottest.Server) imapconn.Options {
	return imapconn.Options{Host: s.Host, Port: s.Port, TLS: "none", User: s.User, Password: s.Password}
}

func options(from, to *dovecottest.Server) Options {
	o := Options{From: connOpts(from)}
	if to != nil {
		o.To = connOpts(to)
	}
	return o
}

// put appends a message over IMAP with flags and an internal date, as
// another mail client would.
func put(t *testing.T, s *dovecottest.Server, folder string, body string, date time.Time, flags ...string) {
	t.Helper()
	c := s.Client(t)
	defer c.Close()
	name := folder
	if s.Separator != "/" {
		name = strings.ReplaceAll(folder, "/", s.Separator)
	}
	c.Create(name, nil).Wait() // may exist
	opts := &imap.AppendOptions{Time: date}
	for _, f := range flags {
		opts.Flags = append(opts.Flags, imap.Flag(f))
	}
	b := []byte(strings.ReplaceAll(body, "\n", "\r\n"))
	cmd := c.Append(name, int64(len(b)), opts)
	cmd.Write(b)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
}

func msg(i int, subject string) string {
	return fmt.Sprintf("From: a@example.org\nTo: b@example.org\nSubject: %s\nMessage-ID: <%d.%s@example.org>\n\nbody %d of %s\n%s\n", subject, i, strings.ReplaceAll(subject, " ", "-"), i, subject, strings.Repeat("x", i%7*100))
}

// signature is a folder's messages as a sorted list of "hash flags date"
// lines: equal signatures mean the same messages, each as many times,
// with the same flags, keywords and internal dates.
func signature(t *testing.T, s *dovecottest.Server, folder string) []string {
	t.Helper()
	var out []string
	for _, m := range s.Messages(t, folder) {
		sum := sha256.Sum256(m.Body)
		out = append(out, fmt.Sprintf("%x %s %s", sum[:8], strings.Join(m.Flags, ","), m.InternalDate.UTC().Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

// bodies is signature without flags and dates.
func bodies(t *testing.T, s *dovecottest.Server, folder string) []string {
	t.Helper()
	var out []string
	for _, m := range s.Messages(t, folder) {
		sum := sha256.Sum256(m.Body)
		out = append(out, fmt.Sprintf("%x", sum[:8]))
	}
	sort.Strings(out)
	return out
}

var day = time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)

// fill puts a fixed mailbox on s: INBOX with flags and keywords, a
// nested folder holding two identical messages, and Sent.
func fill(t *testing.T, s *dovecottest.Server, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		var flags []string
		switch i % 3 {
		case 0:
			flags = []string{`\Seen`, "$Label1"}
		case 1:
			flags = []string{`\Flagged`, `\Answered`, "project-x"}
		}
		put(t, s, "INBOX", msg(i, "inbox"), day.Add(time.Duration(i)*time.Hour), flags...)
	}
	put(t, s, "Lists/go", msg(1, "list"), day, `\Seen`)
	put(t, s, "Lists/go", msg(1, "list"), day, `\Seen`) // an exact duplicate: kept twice
	put(t, s, "Lists/go", msg(2, "list"), day.Add(time.Minute))
	put(t, s, "Sent", msg(1, "sent"), day.Add(48*time.Hour), `\Seen`)
}

func startPair(t *testing.T) (from, to *dovecottest.Server) {
	from = dovecottest.Start(t, nil)
	to = dovecottest.Start(t, &dovecottest.Options{Separator: ".",
		SpecialUse: map[string]string{"Sent Items": `\Sent`, "Deleted Items": `\Trash`}})
	to.CreateMailbox(t, "Sent Items")
	to.CreateMailbox(t, "Deleted Items")
	return from, to
}

func TestMigrateFullDryRunRerun(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 9)
	ctx := context.Background()

	// --dry-run: the plan, and nothing changes.
	before := to.Mailboxes(t)
	o := options(from, to)
	o.DryRun = true
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != 13 || rep.Copied != 0 || rep.Bytes == 0 {
		t.Fatalf("dry run: %d to copy (%d bytes), %d copied; want 13, >0, 0", rep.Messages, rep.Bytes, rep.Copied)
	}
	if after := to.Mailboxes(t); !slices.Equal(before, after) {
		t.Fatalf("dry run changed the folders: %v → %v", before, after)
	}
	if n := len(to.Messages(t, "Sent Items")) + len(to.Messages(t, "INBOX")); n != 0 {
		t.Fatalf("dry run copied %d messages", n)
	}

	// The copy.
	o.DryRun = false
	prog := &countProgress{}
	o.Progress = prog
	rep, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 13 || prog.planMsgs != 13 || prog.doneMsgs != 13 || prog.planBytes != prog.doneBytes || prog.planBytes != rep.Bytes {
		t.Fatalf("copied %d; progress plan %d/%d bytes, done %d/%d bytes", rep.Copied, prog.planMsgs, prog.planBytes, prog.doneMsgs, prog.doneBytes)
	}
	for _, p := range [][2]string{{"INBOX", "INBOX"}, {"Lists/go", "Lists/go"}, {"Sent", "Sent Items"}} {
		want, got := signature(t, from, p[0]), signature(t, to, p[1])
		if !slices.Equal(want, got) {
			t.Errorf("%s → %s:\nFROM %q\nTO   %q", p[0], p[1], want, got)
		}
	}
	if slices.Contains(to.Mailboxes(t), "Sent") {
		t.Errorf("TO got a folder Sent besides its \\Sent folder Sent Items: %v", to.Mailboxes(t))
	}

	// A rerun copies nothing.
	rep, err = Run(ctx, options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 0 || rep.Messages != 0 || rep.Present != 13 {
		t.Fatalf("rerun: %d copied, %d planned, %d present; want 0, 0, 13", rep.Copied, rep.Messages, rep.Present)
	}
	if got := bodies(t, to, "Lists/go"); len(got) != 3 {
		t.Fatalf("Lists/go on TO after the rerun: %d messages, want 3", len(got))
	}
}

type countProgress struct {
	mu                   gosync.Mutex
	planMsgs, doneMsgs   int
	planBytes, doneBytes int64
	onDone               func(done int)
}

func (p *countProgress) Plan(m int, b int64) { p.planMsgs += m; p.planBytes += b }
func (p *countProgress) Done(m int, b int64) {
	p.doneMsgs += m
	p.doneBytes += b
	if p.onDone != nil {
		p.onDone(p.doneMsgs)
	}
}

func TestMigrateInterruptedThenRerun(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := options(from, to)
	o.Progress = &countProgress{onDone: func(n int) {
		if n == 17 {
			cancel()
		}
	}}
	rep, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	if rep.Copied < 17 || rep.Copied >= 44 {
		t.Fatalf("interrupted run copied %d", rep.Copied)
	}
	rep, err = Run(context.Background(), options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Present < 17 || rep.Present+rep.Copied != 44 {
		t.Fatalf("rerun: %d present, %d copied; want ≥17 and 44 in all", rep.Present, rep.Copied)
	}
	for _, p := range [][2]string{{"INBOX", "INBOX"}, {"Lists/go", "Lists/go"}, {"Sent", "Sent Items"}} {
		want, got := signature(t, from, p[0]), signature(t, to, p[1])
		if !slices.Equal(want, got) {
			t.Errorf("%s → %s:\nFROM %q\nTO   %q", p[0], p[1], want, got)
		}
	}
}

func TestMigrateTargetPartlyFilled(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 6)
	// Another tool already copied some, with other flags and dates, and
	// one of the two identical messages.
	put(t, to, "INBOX", msg(0, "inbox"), time.Now())
	put(t, to, "INBOX", msg(4, "inbox"), time.Now(), `\Seen`)
	put(t, to, "Lists/go", msg(1, "list"), day)
	put(t, to, "Sent Items", msg(1, "sent"), day)
	rep, err := Run(context.Background(), options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Present != 4 || rep.Copied != 6 {
		t.Fatalf("%d present, %d copied; want 4, 6", rep.Present, rep.Copied)
	}
	// The ones already there gained FROM's flags and keywords (and kept
	// their own).
	flagsOf := func(s *dovecottest.Server, folder string) map[string][]string {
		out := map[string][]string{}
		for _, m := range s.Messages(t, folder) {
			sum := sha256.Sum256(m.Body)
			out[fmt.Sprintf("%x", sum[:8])] = m.Flags
		}
		return out
	}
	toFlags := flagsOf(to, "INBOX")
	for h, want := range flagsOf(from, "INBOX") {
		for _, f := range want {
			if !slices.Contains(toFlags[h], f) {
				t.Errorf("INBOX message %s on TO: flags %v, lacks FROM's %s", h, toFlags[h], f)
			}
		}
	}
	if f := toFlags[fmt.Sprintf("%x", sha256.Sum256([]byte(strings.ReplaceAll(msg(4, "inbox"), "\n", "\r\n"))))[:16]]; !slices.Equal(f, []string{`\Answered`, `\Flagged`, `\Seen`, "project-x"}) {
		t.Errorf("message 4 on TO: flags %v, want its own \\Seen and FROM's \\Answered \\Flagged project-x", f)
	}
	for _, p := range [][2]string{{"INBOX", "INBOX"}, {"Lists/go", "Lists/go"}, {"Sent", "Sent Items"}} {
		want, got := bodies(t, from, p[0]), bodies(t, to, p[1])
		if !slices.Equal(want, got) {
			t.Errorf("%s → %s: messages differ (doubled or missing):\nFROM %q\nTO   %q", p[0], p[1], want, got)
		}
	}
}

func TestMigrateMapOverride(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 2)
	o := options(from, to)
	o.Map = map[string]string{"Lists/go": "Archive/golang"}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if want, got := signature(t, from, "Lists/go"), signature(t, to, "Archive/golang"); !slices.Equal(want, got) {
		t.Fatalf("Lists/go → Archive/golang:\nFROM %q\nTO   %q", want, got)
	}
	if slices.Contains(to.Mailboxes(t), "Lists/go") {
		t.Fatalf("TO got Lists/go despite the map: %v", to.Mailboxes(t))
	}
	o.Map = map[string]string{"Nope": "X"}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), `"Nope"`) {
		t.Fatalf("map of a folder FROM lacks: err = %v", err)
	}
}

// TestMigrateConcurrent runs 8 migrations of different account pairs at
// once, each with its own servers, and checks each.
func TestMigrateConcurrent(t *testing.T) {
	const pairs = 8
	type pair struct{ from, to *dovecottest.Server }
	ps := make([]pair, pairs)
	for i := range ps {
		ps[i].from, ps[i].to = startPair(t)
		for j := 0; j <= i; j++ {
			put(t, ps[i].from, "INBOX", msg(j, fmt.Sprintf("pair %d", i)), day, `\Seen`, fmt.Sprintf("kw%d", i))
		}
		put(t, ps[i].from, "Sent", msg(i, "sent"), day)
	}
	errs := make([]error, pairs)
	reps := make([]*Report, pairs)
	var wg gosync.WaitGroup
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Run(context.Background(), options(ps[i].from, ps[i].to))
		}()
	}
	wg.Wait()
	for i, p := range ps {
		if errs[i] != nil {
			t.Errorf("pair %d: %v", i, errs[i])
			continue
		}
		if reps[i].Copied != i+2 {
			t.Errorf("pair %d: copied %d, want %d", i, reps[i].Copied, i+2)
		}
		for _, f := range [][2]string{{"INBOX", "INBOX"}, {"Sent", "Sent Items"}} {
			if want, got := signature(t, p.from, f[0]), signature(t, p.to, f[1]); !slices.Equal(want, got) {
				t.Errorf("pair %d %s:\nFROM %q\nTO   %q", i, f[0], want, got)
			}
		}
	}
}

func TestMapFolders(t *testing.T) {
	fa := func(name string, attrs ...string) imapconn.FolderAttrs {
		return imapconn.FolderAttrs{Name: name, Attrs: attrs}
	}
	gmail := []imapconn.FolderAttrs{
		fa("INBOX"), fa("[Gmail]", `\Noselect`, `\HasChildren`), fa("[Gmail]/All Mail", `\All`),
		fa("[Gmail]/Important", `\Important`), fa("[Gmail]/Sent Mail", `\Sent`), fa("[Gmail]/Trash", `\Trash`),
		fa("[Gmail]/Spam", `\Junk`), fa("Work/2020"),
	}
	outlook := []imapconn.FolderAttrs{fa("INBOX"), fa("Sent Items", `\Sent`), fa("Deleted Items", `\Trash`), fa("Junk Email", `\Junk`)}
	pairs, skipped, err := MapFolders(gmail, outlook, "", "", map[string]string{"Work/2020": "Archive/2020"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pairs {
		got = append(got, fmt.Sprintf("%s→%s %v", p.From, p.To, p.Exists))
	}
	want := []string{"INBOX→INBOX true", "Work/2020→Archive/2020 false", "[Gmail]/Sent Mail→Sent Items true", "[Gmail]/Spam→Junk Email true", "[Gmail]/Trash→Deleted Items true"}
	if !slices.Equal(got, want) {
		t.Fatalf("pairs:\n got %q\nwant %q", got, want)
	}
	if len(skipped) != 2 || !strings.HasPrefix(skipped[0], "[Gmail]/All Mail") || !strings.HasPrefix(skipped[1], "[Gmail]/Important") {
		t.Fatalf("skipped %q", skipped)
	}
	// Back the other way: Outlook's names go to Gmail's folders.
	pairs, _, err = MapFolders(outlook, gmail, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pairs[3].From != "Sent Items" || pairs[3].To != "[Gmail]/Sent Mail" {
		t.Fatalf("pairs %+v", pairs)
	}
	// Two folders onto one is refused.
	_, _, err = MapFolders([]imapconn.FolderAttrs{fa("A"), fa("B")}, nil, "", "", map[string]string{"A": "B"})
	if err == nil || !strings.Contains(err.Error(), "both map to") {
		t.Fatalf("collision: err = %v", err)
	}
}

func TestMissingDuplicates(t *testing.T) {
	m := func(uid model.UID, fp string) imapconn.RawMsg { return imapconn.RawMsg{UID: uid, Fingerprint: fp} }
	// FROM: a, b twice (same content), c and c' sharing a fingerprint but
	// different bodies. TO: a, one b, c'.
	src := []imapconn.RawMsg{m(1, "a"), m(2, "b"), m(3, "b"), m(4, "c"), m(5, "c")}
	dst := []imapconn.RawMsg{m(10, "a"), m(11, "b"), m(12, "c")}
	sh := map[model.UID]string{2: "B", 3: "B", 4: "C1", 5: "C2"}
	dh := map[model.UID]string{11: "B", 12: "C2"}
	pick := func(h map[model.UID]string) func([]model.UID) (map[model.UID]string, error) {
		return func(uids []model.UID) (map[model.UID]string, error) {
			out := map[model.UID]string{}
			for _, u := range uids {
				out[u] = h[u]
			}
			return out, nil
		}
	}
	got, matched, err := missing(context.Background(), src, dst, pick(sh), pick(dh))
	if err != nil {
		t.Fatal(err)
	}
	var uids []model.UID
	for _, r := range got {
		uids = append(uids, r.UID)
	}
	if !slices.Equal(uids, []model.UID{3, 4}) {
		t.Fatalf("missing %v, want [3 4]", uids)
	}
	var pairs []string
	for _, m := range matched {
		pairs = append(pairs, fmt.Sprintf("%d=%d", m.src.UID, m.dst.UID))
	}
	if !slices.Equal(pairs, []string{"1=10", "2=11", "5=12"}) {
		t.Fatalf("matched %v, want [1=10 2=11 5=12]", pairs)
	}
}

// TestMigrateNamespacePrefix copies to a server whose folders live under
// "INBOX." (as Courier's and Cyrus's), and back.
func TestMigrateNamespacePrefix(t *testing.T) {
	from := dovecottest.Start(t, nil)
	to := dovecottest.Start(t, &dovecottest.Options{Separator: ".", Prefix: "INBOX.",
		SpecialUse: map[string]string{"Sent Items": `\Sent`}})
	to.CreateMailbox(t, "INBOX/Sent Items")
	fill(t, from, 3)
	rep, err := Run(context.Background(), options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 7 {
		t.Fatalf("copied %d, want 7", rep.Copied)
	}
	for _, p := range [][2]string{{"INBOX", "INBOX"}, {"Lists/go", "INBOX/Lists/go"}, {"Sent", "INBOX/Sent Items"}} {
		if want, got := signature(t, from, p[0]), signature(t, to, p[1]); !slices.Equal(want, got) {
			t.Errorf("%s → %s:\nFROM %q\nTO   %q", p[0], p[1], want, got)
		}
	}
	// Back: the prefix is stripped, and everything is already there.
	rep, err = Run(context.Background(), options(to, from))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 0 || rep.Present != 7 || rep.Created != 0 {
		t.Fatalf("back: copied %d, present %d, created %d; want 0, 7, 0 (folders %+v)", rep.Copied, rep.Present, rep.Created, rep.Folders)
	}
}

// TestMigrateKeywordsRefused copies to GNU imap4d, whose PERMANENTFLAGS
// has no \*: the keywords are dropped and reported once per folder (an
// APPEND with one is refused with BAD), and a rerun copies nothing.
func TestMigrateKeywordsRefused(t *testing.T) {
	from := dovecottest.Start(t, nil)
	to := imap4dtest.Start(t)
	for i := 0; i < 4; i++ {
		put(t, from, "INBOX", msg(i, "kw"), day, `\Seen`, "$Label1", "project-x")
	}
	o := options(from, nil)
	o.To = imapconn.Options{Host: to.Host, Port: to.Port, TLS: "none", User: to.User, Password: to.Password}
	var warnings []string
	o.Warnf = func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 4 || rep.Keywords != 2 || len(warnings) != 1 || !strings.Contains(warnings[0], `"INBOX"`) || !strings.Contains(warnings[0], "$Label1 project-x") {
		t.Fatalf("copied %d, keywords dropped %d, warnings %q", rep.Copied, rep.Keywords, warnings)
	}
	c := to.Client(t)
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	// imap4d ignores the flags and date of an APPEND (it stores \Recent
	// and the time of arrival), but refuses the whole APPEND with BAD
	// when a flag is a keyword: that is what dropping them avoids.
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(bufs) != 4 {
		t.Fatalf("imap4d INBOX has %d messages, want 4", len(bufs))
	}
	c.Close()
	rep, err = Run(context.Background(), o)
	if err != nil {
		t.Fatalf("rerun: %v (warnings %q)", err, warnings)
	}
	if rep.Copied != 0 || rep.Present != 4 {
		t.Fatalf("rerun: copied %d, present %d; want 0, 4", rep.Copied, rep.Present)
	}
}

// TestMigratePartial: a folder TO cannot hold (mapped to a name with a
// level holding TO's delimiter) fails alone, named; the others are copied.
func TestMigratePartial(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 2)
	var warnings []string
	o := options(from, to)
	o.Map = map[string]string{"Lists/go": "Releases/v1.2"}
	o.Warnf = func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	rep, err := Run(context.Background(), o)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Folders != 1 {
		t.Fatalf("err = %v, want 1 failed folder", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"Releases/v1.2"`) {
		t.Fatalf("warnings %q", warnings)
	}
	if rep.Copied != 3 {
		t.Fatalf("copied %d, want 3", rep.Copied)
	}
	if want, got := signature(t, from, "Sent"), signature(t, to, "Sent Items"); !slices.Equal(want, got) {
		t.Fatalf("Sent after the failed folder:\nFROM %q\nTO   %q", want, got)
	}
}

// TestMigrateConnectionLostThenRerun: TO drops the connection with
// APPENDs in flight; the rerun finds what landed and copies the rest,
// each message exactly once.
func TestMigrateConnectionLostThenRerun(t *testing.T) {
	from, to := startPair(t)
	fill(t, from, 40)
	o := options(from, to)
	o.Progress = &countProgress{onDone: func(n int) {
		if n == 21 {
			to.KickConnections(t)
		}
	}}
	rep, err := Run(context.Background(), o)
	if err == nil {
		t.Fatalf("run with the connection kicked: no error (copied %d)", rep.Copied)
	}
	first := rep.Copied
	rep, err = Run(context.Background(), options(from, to))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Present < first || rep.Present+rep.Copied != 44 {
		t.Fatalf("rerun: %d present (first run confirmed %d), %d copied; want 44 in all", rep.Present, first, rep.Copied)
	}
	for _, p := range [][2]string{{"INBOX", "INBOX"}, {"Lists/go", "Lists/go"}, {"Sent", "Sent Items"}} {
		if want, got := signature(t, from, p[0]), signature(t, to, p[1]); !slices.Equal(want, got) {
			t.Errorf("%s → %s:\nFROM %q\nTO   %q", p[0], p[1], want, got)
		}
	}
}
