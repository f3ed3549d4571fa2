package sync

// Keywords in the randomized two-client test (issue 8 case 15): both
// actors set and clear keywords ($Label1, Important, $Junk, NonJunk) on
// messages between sync runs, and the oracle predicts the keywords a
// settling sync leaves with the documented rule: keyword by keyword,
// three-way against the keywords agreed at the last sync (the state's
// pair), the union for unpaired copies; a deletion wins. On a server that
// cannot create keywords (imap4d: PERMANENTFLAGS without \*) only the
// Maildir actor sets them, and they must stay in the Maildir only.
//
// The oracle tracks keywords per message instance (*randEnt): an
// instance created since the last observation and not touched by a
// keyword operation since (an APPEND, a delivery, a COPY or MOVE, which
// carry or drop keywords as the server and the mail client do) is only
// checked for both sides agreeing.

import (
	"fmt"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
)

var randKeywordNames = []string{"$Label1", "Important", "$Junk", "NonJunk"}

// randKw is the oracle's view of one instance's keywords.
type randKw struct {
	s, l model.Keywords // on the server, in the Maildir, as last seen or set
	base model.Keywords // the state pair's (when the instance is paired)
}

// keywordsCreatable reports whether the server keeps new keywords.
func (w *randWorld) keywordsCreatable() bool { return w.srv.name != "imap4d" }

func (w *randWorld) kwOf(e *randEnt) *randKw {
	if w.kw == nil {
		w.kw = map[*randEnt]*randKw{}
	}
	t := w.kw[e]
	if t == nil {
		t = &randKw{}
		w.kw[e] = t
	}
	return t
}

// keywordOp may do one keyword change instead of another operation (one
// in four, never while a sync runs) by the actor of side (0 the server,
// 1 the Maildir) when only one acts per round; it reports whether it did.
func (w *randWorld) keywordOp(concurrent bool) (bool, error) {
	if concurrent || w.rng.Intn(4) != 0 {
		return false, nil
	}
	name := randKeywordNames[w.rng.Intn(len(randKeywordNames))]
	server := w.rng.Intn(2) == 0
	if server && !w.keywordsCreatable() {
		return false, nil
	}
	if server {
		return true, w.serverKeywordOp(name)
	}
	return true, w.localKeywordOp(name)
}

type randKwMsg struct {
	uid uint32
	id  int
	kw  model.Keywords
}

// srvKeywordList lists the selected folder's messages with keywords.
func srvKeywordList(c *imapclient.Client, folder string) ([]randKwMsg, error) {
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("select %q: %w", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	bufs, err := c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch %q: %w", folder, err)
	}
	var out []randKwMsg
	for _, b := range bufs {
		var names []string
		for _, f := range b.Flags {
			names = append(names, string(f))
		}
		m := randKwMsg{uid: uint32(b.UID), kw: model.KeywordsFromIMAP(names)}
		for _, s := range b.BodySection {
			m.id = randID(s.Bytes)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out, nil
}

func (w *randWorld) serverKeywordOp(name string) error {
	c, err := w.dial()
	if err != nil {
		return fmt.Errorf("server actor: login: %w", err)
	}
	defer randLogout(c)
	folders := w.fx.srv.Mailboxes(w.t)
	folder := folders[w.rng.Intn(len(folders))]
	msgs, err := srvKeywordList(c, w.srvName(folder))
	if err != nil || len(msgs) == 0 {
		return err
	}
	m := msgs[w.rng.Intn(len(msgs))]
	add := !m.kw.Has(name)
	op, nk := imap.StoreFlagsAdd, m.kw.Union(model.Keywords{name})
	if !add {
		op, nk = imap.StoreFlagsDel, m.kw.Minus(model.Keywords{name})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf("server: STORE %q uid %d (r%d) keyword %s → %s", folder, m.uid, m.id, name, nk))
	if err := c.Store(imap.UIDSetNum(imap.UID(m.uid)), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.Flag(name)}}, nil).Close(); err != nil {
		return fmt.Errorf("store keyword: %w", err)
	}
	if e := w.ents[randKey{folder, m.id}]; e != nil {
		w.kwOf(e).s = nk
	}
	return nil
}

func (w *randWorld) localKeywordOp(name string) error {
	folders := w.folderList()
	folder := folders[w.rng.Intn(len(folders))]
	f, err := w.fx.md.CreateFolder(folder)
	if err != nil {
		return err
	}
	ents, err := f.Scan()
	if err != nil || len(ents) == 0 {
		return err
	}
	en := ents[w.rng.Intn(len(ents))]
	body, en, err := f.ReadFile(en.Key)
	if err != nil {
		return fmt.Errorf("local: read %s: %w", en.Key, err)
	}
	id := randID(body)
	kw, err := f.AddKeywords(name)
	if err != nil {
		return err
	}
	cur := model.NewKeywords(kw.NamesOf(en.Info)...)
	nk := cur.Union(model.Keywords{name})
	if cur.Has(name) {
		nk = cur.Minus(model.Keywords{name})
	}
	letters, _ := kw.LettersOf(nk)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf("local: keyword %s of %q %s (r%d) → %s", name, folder, en.Key, id, nk))
	if _, err := f.SetInfo(en.Key, en.Flags, letters, kw.Letters()); err != nil {
		return err
	}
	if e := w.ents[randKey{folder, id}]; e != nil {
		w.kwOf(e).l = nk
	}
	return nil
}

// observeKeywords lists the keywords on both sides: folder → id.
func (w *randWorld) observeKeywords() (srv, loc map[string]map[int]model.Keywords) {
	w.t.Helper()
	srv, loc = map[string]map[int]model.Keywords{}, map[string]map[int]model.Keywords{}
	c, err := w.dialWait()
	if err != nil {
		w.fail("observe keywords: %v", err)
	}
	defer randLogout(c)
	for _, name := range w.fx.srv.Mailboxes(w.t) {
		msgs, err := srvKeywordList(c, w.srvName(name))
		if err != nil {
			w.fail("observe keywords: %v", err)
		}
		srv[name] = map[int]model.Keywords{}
		for _, m := range msgs {
			srv[name][m.id] = m.kw
		}
	}
	names, err := w.fx.md.Folders()
	if err != nil {
		w.fail("observe keywords: %v", err)
	}
	for _, name := range names {
		f := w.fx.folder(w.t, name)
		kw, err := f.Keywords()
		if err != nil {
			w.fail("observe keywords: %v", err)
		}
		ents, err := f.Scan()
		if err != nil {
			w.fail("observe keywords: %v", err)
		}
		loc[name] = map[int]model.Keywords{}
		for _, en := range ents {
			body, _, err := f.ReadFile(en.Key)
			if err != nil {
				w.fail("observe keywords: %v", err)
			}
			loc[name][randID(body)] = model.NewKeywords(kw.NamesOf(en.Info)...)
		}
	}
	return srv, loc
}

// snapshotKeywords makes the keyword oracle what the sides and the state
// say now (called by refresh, after the message oracle is rebuilt).
func (w *randWorld) snapshotKeywords() {
	w.t.Helper()
	srv, loc := w.observeKeywords()
	w.kw = map[*randEnt]*randKw{}
	for k, e := range w.ents {
		t := w.kwOf(e)
		t.s, t.l = srv[k.folder][k.id], loc[k.folder][k.id]
	}
	db, err := statedb.Open(w.fx.acct.StatePath)
	if err != nil {
		w.fail("snapshot keywords: open state: %v", err)
	}
	defer db.Close()
	names, err := db.Folders()
	if err != nil {
		w.fail("snapshot keywords: %v", err)
	}
	for _, name := range names {
		st, err := db.Load(name)
		if err != nil {
			w.fail("snapshot keywords: %v", err)
		}
		for _, p := range st.Pairs {
			id, ok := w.uidID[name][uint32(p.UID)]
			if !ok {
				continue
			}
			if e := w.ents[randKey{name, id}]; e != nil && e.paired {
				w.kwOf(e).base = p.Keywords
			}
		}
	}
}

// expectKeywords is what a settling sync must leave of an instance's
// keywords on the server and in the Maildir; known is false for an
// instance the oracle does not track (only agreement is checked).
func (w *randWorld) expectKeywords(e *randEnt) (server, local model.Keywords, known bool) {
	t := w.kw[e]
	if t == nil {
		return nil, nil, false
	}
	var want model.Keywords
	switch {
	case e.srv && e.loc:
		base := t.s.Intersect(t.l)
		if e.paired {
			base = t.base
		}
		if !w.keywordsCreatable() {
			// Kept in the Maildir only: the server's lack of them is no
			// change.
			return nil, t.l, true
		}
		want = model.MergeKeywords(base, t.s, t.l)
	case e.srv:
		want = t.s
	case e.loc:
		want = t.l
		if !w.keywordsCreatable() {
			return nil, want, true
		}
	}
	return want, want, true
}

// checkKeywords compares the keywords of every live instance with the
// oracle's; it returns the problems found.
func (w *randWorld) checkKeywords() []string {
	w.t.Helper()
	srv, loc := w.observeKeywords()
	var problems []string
	for k, e := range w.ents {
		if alive, _ := e.expect(); !alive {
			continue
		}
		s, sok := srv[k.folder][k.id]
		l, lok := loc[k.folder][k.id]
		if !sok || !lok {
			continue // reported by check
		}
		ws, wl, known := w.expectKeywords(e)
		if !known {
			ws, wl = s, s
			if !w.keywordsCreatable() {
				ws, wl = nil, l
			}
		}
		if !s.Equal(ws) || !l.Equal(wl) {
			t := w.kw[e]
			problems = append(problems, fmt.Sprintf("%q r%d: keywords server %s local %s, want %s and %s (oracle %+v, %+v)", k.folder, k.id, s, l, ws, wl, t, *e))
		}
	}
	return problems
}
