package sync

// The randomized two-client test (issue 8, "the proof"). Two actors
// change the account between (and, in the second stage, during) sync
// runs: another IMAP client on the server and a mail client on the
// Maildir. An oracle tracks every message they create (a unique
// Message-ID and body marker) and delete, and predicts, with the
// engine's documented conflict rules, what a settling sync must leave:
//
//   - a message paired at the last sync (the state names it) and deleted
//     on one side is deleted on the other, even if the other side
//     changed its flags meanwhile (deletion wins over a flag change);
//   - flags of a message on both sides merge flag by flag, three-way,
//     against the flags agreed at the last sync (model.MergeFlags);
//   - a message only on one side and not paired is copied to the other
//     with its flags; two unpaired copies of the same content in one
//     folder are paired, their flags merged against their intersection
//     (so the union of both, changes to either kept);
//   - a lost state file makes every message unpaired: deletions made
//     since the last sync on one side come back from the other, flags
//     become the union;
//   - after an interrupted run, an upload intent (APPEND sent, not yet
//     paired) propagates a local deletion only, a download intent (file
//     written, not yet paired) propagates a server deletion only;
//   - a folder created on either side is created on the other;
//   - a folder deleted (or renamed away) on the server is not deleted in
//     the Maildir: the sync skips it with a warning and its local copy
//     keeps what it holds (the oracle "freezes" it; the actors leave it
//     alone); the new name of a renamed folder is a new folder;
//   - a folder deleted and created again on the server (a new
//     UIDVALIDITY) is re-paired by content: its Maildir messages are
//     uploaded into the new, empty folder.
//
// The mass-deletion guard is off in these runs (it has its own tests):
// a random seed may delete most of a small folder.
//
// The actors' operations are two tables in random_ops_test.go (server:
// APPEND, STORE, EXPUNGE, MOVE, COPY, CREATE, DELETE, RENAME, recreate;
// local: deliver, flags, delete, move, copy, create folder, a draft
// saved again under the same name); random_keywords_test.go adds keyword
// operations by both actors.
//
// Each seed: both actors make the first mail, a settling sync; then six
// rounds of 1-6 actor operations, sometimes (1 in 8) a lost state file,
// then one of: a plain settling sync; a sync cancelled after 0-300 ms; a
// sync with the actors acting during it (servers allowing a second
// connection); a sync in a child process killed right after its k-th
// durable step, k random (internal/crashpoint), with the actors acting
// during it half the time. After an interrupted or concurrent run the
// oracle takes both sides and the state as they are, then a settling
// sync is checked.
//
// Servers: Dovecot; Dovecot without UIDPLUS and CONDSTORE; Dovecot with
// the personal namespace INBOX. and separator "." (Courier's and
// Debian's Cyrus layout); Dovecot allowing one connection (no concurrent
// stage: the actor could not log in); `mailsync serve`
// (MAILSYNC_TEST_SERVER=serve, instead of the Dovecot ones); GNU
// Mailutils imap4d, whose actors use only \Draft, \Flagged and \Answered
// (imap4d answers BAD to $Forwarded and keeps no flag given with APPEND,
// so the server actor STOREs them after it; \Seen is left out so that no
// message is uploaded with it; imap4d gives a folder it empties a new
// UIDVALIDITY).
//
// MAILSYNC_SEED=N (or N,M,...) runs those seeds; MAILSYNC_SOAK=1 runs new
// seeds for MAILSYNC_SOAK_DURATION (default 10m) on every server;
// MAILSYNC_RANDOM_LOG=1 prints the operation log of passing seeds too.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
)

// randCISeeds are the seeds CI runs on every Dovecot configuration and
// on imap4d (about 12 s a seed under -race on a 2-core machine, so about
// 2 minutes for the five servers); randCISeedsServe on `mailsync serve`
// (about 2 s a seed). Found by earlier seeds and fixed, each with its own
// regression test: a folder emptied on a CONDSTORE server kept its
// messages locally (TestFolderEmptiedOnTheServer); imap4d's "* n
// EXPUNGED" broke the connection and an expunge that emptied a folder
// gave it a new UIDVALIDITY, after which the folder was refused on every
// run (soak seed 1795438297230100799; TestFolderEmptiedLocallyOnImap4d,
// imapconn TestExpungeWithoutUIDPlusOnImap4d).
var (
	randCISeeds      = []int64{1, 2}
	randCISeedsServe = []int64{1, 2, 3, 4}
)

type randServer struct {
	name string
	// flags is what the server keeps: imap4d answers BAD to $Forwarded
	// and drops \Seen on APPEND, so its actors use neither.
	flags model.Flags
	// appendDropsFlags: the server keeps no flags given with APPEND
	// (imap4d): the server actor STOREs them after the APPEND.
	appendDropsFlags bool
	// concurrent: the actors may act while a sync runs (not with one
	// connection allowed: the actor's login would be refused).
	concurrent bool
	start      func(t *testing.T) *fixture
	// folderOps: the server actor deletes, renames and recreates
	// folders.
	folderOps bool
}

func randServers() []randServer {
	std := model.FlagDraft | model.FlagFlagged | model.FlagReplied | model.FlagSeen | model.FlagPassed
	dovecot := func(opts *dovecottest.Options) func(t *testing.T) *fixture {
		return func(t *testing.T) *fixture { return newFixture(t, opts) }
	}
	if serveBackend() {
		return []randServer{{name: "serve", flags: std, concurrent: true, start: dovecot(nil), folderOps: true}}
	}
	return []randServer{
		{name: "dovecot", flags: std, concurrent: true, start: dovecot(nil), folderOps: true},
		{name: "dovecot-nouidplus", flags: std, concurrent: true, start: dovecot(&dovecottest.Options{NoUIDPlus: true, NoCondStore: true}), folderOps: true},
		{name: "dovecot-namespace", flags: std, concurrent: true, start: dovecot(&dovecottest.Options{NamespacePrefix: "INBOX.", Separator: "."}), folderOps: true},
		{name: "dovecot-oneconn", flags: std, start: func(t *testing.T) *fixture {
			fx := newFixture(t, &dovecottest.Options{MaxConnections: 1})
			fx.acct.Connections = 1
			return fx
		}, folderOps: true},
		{name: "imap4d", flags: model.FlagDraft | model.FlagFlagged | model.FlagReplied, appendDropsFlags: true,
			start: newImap4dFixture, folderOps: true},
	}
}

func TestRandomTwoClients(t *testing.T) {
	seeds := randCISeeds
	if serveBackend() {
		seeds = randCISeedsServe
	}
	if s := os.Getenv("MAILSYNC_SEED"); s != "" {
		seeds = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				t.Fatalf("MAILSYNC_SEED=%q: %q is not a number (give one seed or several separated by commas)", s, f)
			}
			seeds = append(seeds, n)
		}
	}
	soak := os.Getenv("MAILSYNC_SOAK") == "1"
	dur := 10 * time.Minute
	if d := os.Getenv("MAILSYNC_SOAK_DURATION"); d != "" {
		var err error
		if dur, err = time.ParseDuration(d); err != nil {
			t.Fatalf("MAILSYNC_SOAK_DURATION=%q: %v", d, err)
		}
	}
	for _, srv := range randServers() {
		srv := srv
		t.Run(srv.name, func(t *testing.T) {
			if !soak {
				for _, s := range seeds {
					s := s
					t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runRandom(t, srv, s) })
				}
				return
			}
			end := time.Now().Add(dur)
			base := time.Now().UnixNano()
			for i := int64(0); time.Now().Before(end); i++ {
				s := base + i
				if !t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runRandom(t, srv, s) }) {
					return
				}
			}
		})
	}
}

// randKey names one message instance: a message (by id) in a folder.
type randKey struct {
	folder string
	id     int
}

// randEnt is the oracle's view of one message instance.
type randEnt struct {
	srv, loc bool
	sf, lf   model.Flags
	// paired: the state pairs it; base is the agreed flags.
	paired bool
	base   model.Flags
	// delL / delS: a deletion in the Maildir / on the server propagates
	// (paired: both; upload intent: delL; download intent: delS).
	delL, delS bool
}

// expect is what a settling sync must leave of e.
func (e *randEnt) expect() (bool, model.Flags) {
	switch {
	case e.srv && e.loc:
		base := e.sf & e.lf
		if e.paired {
			base = e.base
		}
		return true, model.MergeFlags(base, e.sf, e.lf)
	case e.srv:
		return !e.delL, e.sf
	case e.loc:
		return !e.delS, e.lf
	}
	return false, 0
}

type randWorld struct {
	// quick counts the folders the settling runs synced by a quick pass,
	// unlisted those of them that read no Maildir directory.
	quick, unlisted int
	t               *testing.T
	fx              *fixture
	srv             randServer
	rng             *rand.Rand
	seed            int64

	mu      gosync.Mutex
	ents    map[randKey]*randEnt
	folders map[string]bool
	// frozen are the folders deleted on the server and kept in the
	// Maildir: the sync skips them with a warning (README "Conflict
	// rules"), the actors leave them alone.
	frozen map[string]bool
	// synced are the folders the state knows (at the last refresh).
	synced map[string]bool
	// renumbered are the folders whose server UIDVALIDITY differs from
	// the state's (re-paired by content, or started over, by the next
	// sync).
	renumbered map[string]bool
	next       int
	log        []string
	uidID      map[string]map[uint32]int // folder → UID → id, every UID seen under validity[folder]
	// validity is each server folder's UIDVALIDITY when last listed.
	validity map[string]uint32
	start    time.Time
	keyID    map[string]map[string]int // folder → Maildir key → id
	// curFolder is the server actor's selected folder.
	curFolder string
	kw        map[*randEnt]*randKw // keywords (random_keywords_test.go)
}

var randIDRe = regexp.MustCompile(`Message-ID: <r(\d+)@rand\.test>`)

func randID(body []byte) int {
	m := randIDRe.FindSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func (w *randWorld) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

func (w *randWorld) fail(format string, args ...any) {
	w.t.Helper()
	w.fx.exempt.goneFromServer = w.frozen
	w.mu.Lock()
	ops := strings.Join(w.log, "\n  ")
	w.mu.Unlock()
	w.t.Fatalf("seed %d (server %s; reproduce with MAILSYNC_SEED=%d): %s\noperation log:\n  %s",
		w.seed, w.srv.name, w.seed, fmt.Sprintf(format, args...), ops)
}

func (w *randWorld) msg(id int, who string) []byte {
	return []byte(fmt.Sprintf("From: Actor <actor@example.org>\nTo: Bob <bob@example.org>\nSubject: rand %d from %s\nDate: Mon, 2 Sep 2024 10:%02d:%02d +0000\nMessage-ID: <r%d@rand.test>\n\nbody marker rand-%d (%s)\nsecond line caf\xc3\xa9\n",
		id, who, id/60%60, id%60, id, id, who))
}

func (w *randWorld) ent(k randKey) *randEnt {
	e := w.ents[k]
	if e == nil {
		e = &randEnt{}
		w.ents[k] = e
	}
	return e
}

// fresh makes a new instance of k: nothing of an earlier one (deleted
// on both sides) is remembered.
func (w *randWorld) fresh(k randKey) *randEnt {
	e := &randEnt{}
	w.ents[k] = e
	return e
}

// free reports whether message id can be put into folder (no live
// instance there).
func (w *randWorld) free(folder string, id int) bool {
	e := w.ents[randKey{folder, id}]
	return e == nil || (!e.srv && !e.loc)
}

func (w *randWorld) randFlags() model.Flags {
	return model.Flags(w.rng.Intn(64)) & w.srv.flags
}

func (w *randWorld) folderList() []string {
	var out []string
	for f := range w.folders {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func (w *randWorld) frozenList() []string {
	var out []string
	for f := range w.frozen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// ---- the server actor ----

type randSrvMsg struct {
	uid   uint32
	id    int
	flags model.Flags
	body  []byte
}

func (w *randWorld) dial() (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(w.fx.srv.Addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(w.fx.srv.User, w.fx.srv.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialWait is dial for the oracle's own looks at the server, which must
// not fail: on a server allowing one connection, a sync that was just
// cancelled or killed may hold it for a moment longer (its logout is
// still on the way), so a refusal for the connection limit is retried
// for up to 10 s.
func (w *randWorld) dialWait() (*imapclient.Client, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := w.dial()
		if err == nil || time.Now().After(deadline) ||
			!(strings.Contains(err.Error(), "[LIMIT]") || strings.Contains(err.Error(), "Maximum number of connections")) {
			return c, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// randLogout logs out and waits for the server's goodbye, so that a
// server allowing one connection counts this one gone before the next
// sync logs in.
func randLogout(c *imapclient.Client) {
	c.Logout().Wait()
	c.Close()
}

func (w *randWorld) srvList(c *imapclient.Client, folder string) ([]randSrvMsg, error) {
	sel, err := c.Select(w.srvName(folder), nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("select %q: %w", folder, err)
	}
	w.curFolder = folder
	if w.validity[folder] != sel.UIDValidity {
		w.validity[folder] = sel.UIDValidity
		delete(w.uidID, folder) // UIDs of another UIDVALIDITY
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
	var out []randSrvMsg
	for _, b := range bufs {
		m := randSrvMsg{uid: uint32(b.UID)}
		var names []string
		for _, f := range b.Flags {
			names = append(names, string(f))
		}
		m.flags = model.FlagsFromIMAP(names)
		for _, s := range b.BodySection {
			m.body = s.Bytes
		}
		m.id = randID(m.body)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out, nil
}

func imapFlags(f model.Flags) []imap.Flag {
	var out []imap.Flag
	for _, n := range f.IMAP() {
		out = append(out, imap.Flag(n))
	}
	return out
}

func (w *randWorld) srvExpunge(c *imapclient.Client, uid uint32) error {
	set := imap.UIDSetNum(imap.UID(uid))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return err
	}
	if c.Caps().Has(imap.CapUIDPlus) {
		return c.UIDExpunge(set).Close()
	}
	// CLOSE expunges without untagged answers: imap4d's "* n EXPUNGED"
	// breaks go-imap's client. The folder is selected again for the
	// caller.
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		return err
	}
	_, err := c.Select(w.srvName(w.curFolder), nil).Wait()
	return err
}

// ---- observing and checking ----

type randSide struct {
	flags model.Flags
	n     int
	body  []byte
}

// observe lists both sides: folder → id → what is there.
func (w *randWorld) observe() (srv, loc map[string]map[int]*randSide, srvFolders, locFolders []string) {
	w.t.Helper()
	srv, loc = map[string]map[int]*randSide{}, map[string]map[int]*randSide{}
	c, err := w.dialWait()
	if err != nil {
		w.fail("observe: %v", err)
	}
	defer randLogout(c)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		w.fail("observe: list: %v", err)
	}
outer:
	for _, mb := range list {
		for _, a := range mb.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				continue outer
			}
		}
		srvFolders = append(srvFolders, w.canonName(mb.Mailbox))
	}
	sort.Strings(srvFolders)
	for _, name := range srvFolders {
		msgs, err := w.srvList(c, name)
		if err != nil {
			w.fail("observe: %v", err)
		}
		srv[name] = map[int]*randSide{}
		if w.uidID[name] == nil {
			w.uidID[name] = map[uint32]int{}
		}
		for _, m := range msgs {
			w.uidID[name][m.uid] = m.id
			s := srv[name][m.id]
			if s == nil {
				s = &randSide{flags: m.flags, body: m.body}
				srv[name][m.id] = s
			}
			s.n++
		}
	}
	locFolders, err = w.fx.md.Folders()
	if err != nil {
		w.fail("observe: %v", err)
	}
	for _, name := range locFolders {
		f := w.fx.folder(w.t, name)
		ents, err := f.Scan()
		if err != nil {
			w.fail("observe: %v", err)
		}
		loc[name] = map[int]*randSide{}
		if w.keyID[name] == nil {
			w.keyID[name] = map[string]int{}
		}
		for _, en := range ents {
			body, _, err := f.ReadFile(en.Key)
			if err != nil {
				w.fail("observe: %v", err)
			}
			id := randID(body)
			w.keyID[name][en.Key] = id
			s := loc[name][id]
			if s == nil {
				s = &randSide{flags: en.Flags, body: model.ToCRLF(body)}
				loc[name][id] = s
			}
			s.n++
		}
	}
	return srv, loc, srvFolders, locFolders
}

// refresh makes the oracle's model what the two sides and the state
// say now (after a run the oracle cannot predict: cancelled, or with
// actors acting during it).
func (w *randWorld) refresh() {
	w.t.Helper()
	srv, loc, sf, lf := w.observe()
	w.ents = map[randKey]*randEnt{}
	for _, name := range sf {
		w.folders[name] = true
		for id, s := range srv[name] {
			e := w.ent(randKey{name, id})
			e.srv, e.sf = true, s.flags
		}
	}
	for _, name := range lf {
		w.folders[name] = true
		for id, s := range loc[name] {
			e := w.ent(randKey{name, id})
			e.loc, e.lf = true, s.flags
		}
	}
	w.frozen = map[string]bool{}
	w.synced = map[string]bool{}
	w.renumbered = map[string]bool{}
	if _, err := os.Stat(w.fx.acct.StatePath); err != nil {
		return
	}
	defer w.snapshotKeywords()
	db, err := statedb.Open(w.fx.acct.StatePath)
	if err != nil {
		w.fail("refresh: open state: %v", err)
	}
	defer db.Close()
	names, err := db.Folders()
	if err != nil {
		w.fail("refresh: %v", err)
	}
	onServer := map[string]bool{}
	for _, name := range sf {
		onServer[name] = true
	}
	for _, name := range names {
		w.synced[name] = true
	}
	for _, name := range lf {
		if !onServer[name] && slices.Contains(names, name) {
			w.frozen[name] = true // gone from the server, known: skipped
		}
	}
	for _, name := range names {
		st, err := db.Load(name)
		if err != nil {
			w.fail("refresh: %v", err)
		}
		// get is the entry of message id, looked up with the comma-ok
		// form: a UID the oracle never saw (expunged before it looked)
		// is not message 0's.
		get := func(id int) *randEnt {
			if id < 0 {
				return nil
			}
			return w.ents[randKey{name, id}]
		}
		old := st.UIDValidity != 0 && st.UIDValidity != w.validity[name]
		if old && onServer[name] {
			w.renumbered[name] = true
		}
		for _, p := range st.Pairs {
			var byUID, byKey *randEnt
			if id, ok := w.uidID[name][uint32(p.UID)]; ok && !old {
				byUID = get(id)
			}
			// Pairs of an old UIDVALIDITY name their files alone: the
			// next run re-pairs by content, or starts the folder over
			// (renumberedOnServer).
			if id, ok := w.keyID[name][p.Key]; ok {
				byKey = get(id)
			}
			if byKey != nil && w.editedSince(name, p) {
				// The file was edited since (saved again under its
				// name): its content is another message, not paired
				// (the sync uploads it and replaces the old one).
				byKey = nil
			}
			for _, e := range []*randEnt{byUID, byKey} {
				if e != nil {
					e.paired, e.base, e.delL, e.delS = true, p.Flags, true, true
				}
			}
		}
		if old {
			continue
		}
		for _, it := range st.Intents {
			if id, ok := w.keyID[name][it.Key]; ok {
				if e := get(id); e != nil && !e.paired {
					e.delL = true
				}
			}
		}
		for _, d := range st.Downloads {
			if id, ok := w.uidID[name][uint32(d.UID)]; ok {
				if e := get(id); e != nil && !e.paired {
					e.delS = true
				}
			}
		}
	}
}

// editedSince reports whether the Maildir file a pair names holds
// other content than the pair recorded (edited in place since).
func (w *randWorld) editedSince(folder string, p model.Pair) bool {
	if p.Hash == "" {
		return false
	}
	f, err := w.fx.md.Folder(folder)
	if err != nil {
		return false
	}
	data, _, err := f.ReadFile(p.Key)
	return err == nil && model.ContentHash(data) != p.Hash
}

// renumberedOnServer unpairs, in the oracle, the messages of every
// folder whose UIDVALIDITY on the server is no longer the one the state
// recorded and which is empty there (recreated by the server actor, or
// emptied by the server itself: imap4d gives a folder it empties a new
// one). README: such a folder starts over, as after a lost state: a
// message deleted on the server since the last sync comes back from the
// Maildir. A renumbered folder that holds messages keeps its pairs: the
// content they remember decides.
func (w *randWorld) renumberedOnServer() {
	w.t.Helper()
	if _, err := os.Stat(w.fx.acct.StatePath); err != nil {
		return
	}
	db, err := statedb.Open(w.fx.acct.StatePath)
	if err != nil {
		w.fail("open state: %v", err)
	}
	stored := map[string]uint32{}
	names, err := db.Folders()
	for _, name := range names {
		if st, lerr := db.Load(name); lerr == nil {
			stored[name] = st.UIDValidity
		} else {
			err = lerr
		}
	}
	db.Close()
	if err != nil {
		w.fail("read state: %v", err)
	}
	c, err := w.dialWait()
	if err != nil {
		w.fail("status: %v", err)
	}
	defer randLogout(c)
	for name, v := range stored {
		if v == 0 || w.frozen[name] || !w.folders[name] {
			continue
		}
		st, err := c.Status(w.srvName(name), &imap.StatusOptions{UIDValidity: true, NumMessages: true}).Wait()
		if err != nil || st.UIDValidity == v {
			continue // gone from the server, or unchanged
		}
		w.logf("(UIDVALIDITY of %q changed on the server: %d → %d)", name, v, st.UIDValidity)
		if st.NumMessages != nil && *st.NumMessages > 0 && w.oldPairOnServer(name) {
			// Renumbered (imap4d renumbers a folder): the server still
			// holds a message paired before, so the pairs' remembered
			// content decides (README "Conflict rules"), and every pair
			// still counts: a message gone from one side since is
			// deleted on the other.
			continue
		}
		// Empty, or holding none of the messages paired before
		// (deleted and created again, then written to): the folder
		// starts over.
		for k, e := range w.ents {
			if k.folder == name {
				e.paired, e.delL, e.delS = false, false, false
			}
		}
	}
}

// oldPairOnServer reports whether the server folder holds a message the
// oracle has paired (before its UIDVALIDITY changed).
func (w *randWorld) oldPairOnServer(folder string) bool {
	for k, e := range w.ents {
		if k.folder == folder && e.paired && e.srv {
			return true
		}
	}
	return false
}

func randChanged(s *Summary) bool {
	return s.Downloaded+s.Uploaded+s.FlagsToServer+s.FlagsToLocal+s.DeletedLocal+s.ExpungedRemote+s.Paired > 0
}

// settle runs syncs with no actor until one changes nothing (at most 3)
// and checks the result against the oracle.
func (w *randWorld) settle() {
	w.t.Helper()
	w.renumberedOnServer()
	for i := 0; i < 3; i++ {
		w.logf("sync (settling %d) at %v", i+1, time.Since(w.start).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sum, err := Run(ctx, w.fx.acct, Options{AllowMassDelete: true, Logf: func(format string, args ...any) {
			w.logf("  engine: "+format, args...)
		}})
		cancel()
		if sum != nil {
			w.quick += sum.QuickPasses
			w.unlisted += sum.QuickUnlisted
		}
		if err != nil {
			var errs []string
			if sum != nil {
				errs = sum.Errors
			}
			w.fail("settling sync: %v (errors %q)", err, errs)
		}
		if len(sum.Errors) > 0 {
			w.fail("settling sync: errors %q", sum.Errors)
		}
		w.logf("  (%v)", sum)
		if len(sum.Warnings) > 0 {
			w.logf("  (warnings %q)", sum.Warnings)
		}
		if !randChanged(sum) {
			break
		}
	}
	w.check()
	w.refresh()
}

// realFolders is names without the parents a server or Maildir may
// make for a folder below them (Work for Work/Reports) when the oracle
// does not know them and they hold no message.
func (w *randWorld) realFolders(names []string, msgs map[string]map[int]*randSide) []string {
	var out []string
	for _, n := range names {
		if !w.folders[n] && len(msgs[n]) == 0 {
			parent := false
			for f := range w.folders {
				if strings.HasPrefix(f, n+"/") {
					parent = true
				}
			}
			if parent {
				continue
			}
		}
		out = append(out, n)
	}
	return out
}

func (w *randWorld) check() {
	w.t.Helper()
	srv, loc, sf, lf := w.observe()
	want := w.folderList()
	var wantSrv []string
	for _, f := range want {
		if !w.frozen[f] {
			wantSrv = append(wantSrv, f)
		}
	}
	if got := w.realFolders(sf, srv); !slices.Equal(got, wantSrv) {
		w.fail("server folders %q, want %q", got, wantSrv)
	}
	if got := w.realFolders(lf, loc); !slices.Equal(got, want) {
		w.fail("Maildir folders %q, want %q", got, want)
	}
	var problems []string
	seen := map[randKey]bool{}
	for k, e := range w.ents {
		seen[k] = true
		alive, flags := e.expect()
		s, l := srv[k.folder][k.id], loc[k.folder][k.id]
		if w.frozen[k.folder] {
			// Deleted on the server: the Maildir copy is left as it is.
			switch {
			case e.loc && l == nil:
				problems = append(problems, fmt.Sprintf("%q r%d: lost from a folder deleted on the server (%+v)", k.folder, k.id, *e))
			case !e.loc && l != nil:
				problems = append(problems, fmt.Sprintf("%q r%d: deleted (%+v) but back in a folder deleted on the server", k.folder, k.id, *e))
			case l != nil && (l.n != 1 || l.flags != e.lf):
				problems = append(problems, fmt.Sprintf("%q r%d: %d copies, flags %q, want 1 with %q in a folder deleted on the server", k.folder, k.id, l.n, l.flags.Letters(), e.lf.Letters()))
			}
			continue
		}
		if !alive {
			if s != nil || l != nil {
				problems = append(problems, fmt.Sprintf("%q r%d: deleted (%+v) but back (server %v, local %v)", k.folder, k.id, *e, s != nil, l != nil))
			}
			continue
		}
		switch {
		case s == nil || l == nil:
			problems = append(problems, fmt.Sprintf("%q r%d: alive (%+v) but on server %v, local %v", k.folder, k.id, *e, s != nil, l != nil))
		case s.n != 1 || l.n != 1:
			problems = append(problems, fmt.Sprintf("%q r%d: %d copies on the server, %d in the Maildir", k.folder, k.id, s.n, l.n))
		case s.flags != flags || l.flags != flags:
			problems = append(problems, fmt.Sprintf("%q r%d: flags server %q local %q, want %q (%+v)", k.folder, k.id, s.flags.Letters(), l.flags.Letters(), flags.Letters(), *e))
		case !bytes.Equal(s.body, l.body):
			problems = append(problems, fmt.Sprintf("%q r%d: bodies differ:\nserver %q\nlocal  %q", k.folder, k.id, s.body, l.body))
		}
	}
	for _, side := range []map[string]map[int]*randSide{srv, loc} {
		for folder, msgs := range side {
			for id := range msgs {
				if !seen[randKey{folder, id}] {
					problems = append(problems, fmt.Sprintf("%q r%d: on a side, never made there by an actor", folder, id))
				}
			}
		}
	}
	problems = append(problems, w.checkKeywords()...)
	if len(problems) > 0 {
		sort.Strings(problems)
		w.fail("after settling:\n  %s", strings.Join(problems, "\n  "))
	}
}

// actors does n random operations of both actors.
func (w *randWorld) actors(n int, concurrent bool) {
	w.t.Helper()
	w.rng.Intn(2) // (the side of the first operation once; keeps the seeds' sequences)
	for i := 0; i < n; i++ {
		var err error
		side := w.rng.Intn(2)
		if did, err := w.keywordOp(concurrent); did {
			if err != nil {
				w.fail("actor: %v", err)
			}
			continue
		}
		if side == 0 {
			err = w.serverOp(concurrent)
		} else {
			err = w.localOp(concurrent)
		}
		if err != nil {
			if !concurrent {
				w.fail("actor: %v", err)
			}
			w.logf("  (actor op failed during the sync: %v)", err)
		}
	}
}

// killedRun runs a sync in a child process (crash_test.go's helper,
// built with failpoints) that exits right after its k-th durable step
// (a state commit, a command changing the server, a Maildir rename or
// unlink; internal/crashpoint), k random; on servers allowing a second
// connection the actors may act while it runs. The world is then
// observed as the kill left it.
func (w *randWorld) killedRun() {
	w.t.Helper()
	k := 1 + w.rng.Intn(30)
	during := w.srv.concurrent && w.rng.Intn(2) == 0
	w.logf("sync in a child process, killed after step %d (actors during it: %v)", k, during)
	cmd := w.fx.child(w.t, fmt.Sprintf("MAILSYNC_CRASH_AFTER=%d", k), childAllowMassDeleteEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		w.fail("start the child sync: %v", err)
	}
	if during {
		w.actors(1+w.rng.Intn(4), true)
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.fail("child sync: %v", err)
	}
	w.logf("  (child exited with %d: %s)", code, strings.TrimSpace(stderr.String()))
	w.refresh()
}

func runRandom(t *testing.T, srv randServer, seed int64) {
	start := time.Now()
	fx := srv.start(t)
	fx.acct.Connections = 2
	if srv.name == "dovecot-oneconn" {
		fx.acct.Connections = 1
	}
	w := &randWorld{t: t, fx: fx, srv: srv, rng: rand.New(rand.NewSource(seed)), seed: seed, start: start,
		ents: map[randKey]*randEnt{}, folders: map[string]bool{model.Inbox: true}, frozen: map[string]bool{}, synced: map[string]bool{}, validity: map[string]uint32{},
		renumbered: map[string]bool{},
		uidID:      map[string]map[uint32]int{}, keyID: map[string]map[string]int{}}
	w.actors(6, false)
	w.settle()
	rounds := 6
	for r := 0; r < rounds; r++ {
		w.actors(1+w.rng.Intn(6), false)
		if w.rng.Intn(8) == 0 {
			w.logf("state file lost")
			if err := os.Remove(fx.acct.StatePath); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, e := range w.ents {
				e.paired, e.delL, e.delS = false, false, false
			}
			// A folder deleted on the server is now only in the
			// Maildir, unknown: it is created on the server again.
			w.frozen = map[string]bool{}
			w.synced = map[string]bool{}
		}
		switch kind := w.rng.Intn(5); {
		case kind == 0: // a run cancelled at a random point
			d := time.Duration(w.rng.Intn(300)) * time.Millisecond
			w.logf("sync cancelled after %v", d)
			ctx, cancel := context.WithTimeout(context.Background(), d)
			_, err := Run(ctx, fx.acct, Options{AllowMassDelete: true})
			cancel()
			w.logf("  (cancelled sync returned %v)", err)
			w.refresh()
		case kind == 1 && srv.concurrent: // actors act during the run
			w.logf("sync with actors acting during it")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, fx.acct, Options{AllowMassDelete: true})
				done <- err
			}()
			w.actors(1+w.rng.Intn(5), true)
			err := <-done
			cancel()
			w.logf("  (sync during actors returned %v)", err)
			w.refresh()
		case kind == 2: // a run killed right after a random durable step
			w.killedRun()
		}
		w.settle()
	}
	fx.exempt.goneFromServer = w.frozen
	// The fixture's own check (state consistency, the state names exactly
	// the messages), once: it wants the same folders on both sides, not
	// so while a folder deleted on the server is kept in the Maildir.
	if len(w.frozen) == 0 {
		fx.assertInSync(t)
		if t.Failed() {
			w.fail("assertInSync failed (above)")
		}
	}
	t.Logf("seed %d on %s: %d operations, %d quick passes (%d without a listing), %v", seed, srv.name, len(w.log), w.quick, w.unlisted, time.Since(start).Round(time.Millisecond))
	if os.Getenv("MAILSYNC_RANDOM_LOG") == "1" {
		t.Logf("operation log:\n  %s", strings.Join(w.log, "\n  "))
	}
}
