package serve

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// mailbox is the state of one folder shared by every session that uses
// it: the messages in UID order as last scanned or changed by serve. The
// sessions each keep their own view (the UIDs they have been told about)
// and compare it with this state to announce changes; nothing here knows
// about sequence numbers.
type mailbox struct {
	srv    *Server
	name   string
	folder *maildir.Folder
	refs   int // guarded by srv.mu

	mu       sync.Mutex
	loaded   bool
	gone     bool
	validity uint32
	uidNext  uint32
	// firstRecent is the lowest UID not yet claimed as \Recent by a
	// session (Dovecot's rule: a message is recent in the first session
	// that selects the folder, or has it selected, after it arrived).
	firstRecent uint32
	// kw is the folder's keyword map (dovecot-keywords) and kwStamp what
	// its file looked like when read.
	kw      *maildir.Keywords
	kwStamp kwStamp
	// highestMod is HIGHESTMODSEQ; pendingMods are MODSEQs given since
	// the last index commit, which every change commits before it is
	// announced.
	highestMod  uint64
	pendingMods map[string]modRec
	loadedMods  map[string]modRec // from the index, for the first scan
	msgs        []*message        // ascending UID
	byKey       map[string]*message
	byUID       map[imap.UID]*message
	// changed is closed (and replaced) whenever msgs or a message's flags
	// change, waking IDLE sessions.
	changed chan struct{}
	// What the last scan saw, to skip rescans when nothing changed.
	scanStamp maildir.Stamp
	scanStart time.Time
}

// message is one message of a mailbox. Its fields are guarded by the
// mailbox's mu; copy them out (msgInfo) before releasing it.
type message struct {
	uid     imap.UID
	key     string
	flags   model.Flags
	kw      string // keyword letters of the file name, sorted (unknown ones too)
	rawInfo string // the file name's info part, as is
	modSeq  uint64 // CONDSTORE MODSEQ
	inNew   bool   // the file is in new/
	mtime   time.Time
	size    int64 // RFC822.SIZE (CRLF), -1 until the file is read
}

func newMailbox(s *Server, f *maildir.Folder) *mailbox {
	return &mailbox{
		srv:     s,
		name:    f.Name(),
		folder:  f,
		byKey:   make(map[string]*message),
		byUID:   make(map[imap.UID]*message),
		changed: make(chan struct{}),
	}
}

func (mb *mailbox) notifyLocked() {
	close(mb.changed)
	mb.changed = make(chan struct{})
}

func (mb *mailbox) changedChan() <-chan struct{} {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.changed
}

func (mb *mailbox) markGone() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.gone = true
	mb.msgs = nil
	mb.byKey = make(map[string]*message)
	mb.byUID = make(map[imap.UID]*message)
	mb.notifyLocked()
}

func (mb *mailbox) refresh() error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.refreshLocked()
}

// mtimeSlack is how close to a scan a directory change must be for the
// scan to be repeated even though the mtime looks unchanged (file
// systems with coarse timestamps).
const mtimeSlack = 2 * time.Second

// refreshLocked brings msgs up to date with the folder on disk: new files
// get the next UIDs (in key order), vanished ones are dropped, renamed
// ones get their new flags. The index is updated in one transaction
// before anything is announced.
func (mb *mailbox) refreshLocked() error {
	if mb.gone {
		return nil
	}
	if !mb.loaded {
		st, err := mb.srv.idx.loadFolder(mb.name)
		if err != nil {
			return err
		}
		mb.validity, mb.uidNext, mb.firstRecent = st.validity, st.uidNext, st.firstRecent
		mb.highestMod = st.highestMod
		for _, r := range st.mods {
			mb.highestMod = max(mb.highestMod, r.modSeq)
		}
		if mb.highestMod == 0 {
			mb.highestMod = 1
			mb.pendingMods = make(map[string]modRec) // commit the 1
		}
		mb.loadedMods = st.mods
		if err := mb.loadKeywordsLocked(); err != nil {
			return err
		}
		return mb.scanLocked(st.uids)
	}
	if err := mb.loadKeywordsLocked(); err != nil {
		return err
	}
	if st := mb.folder.ChangeStamp(); st == mb.scanStamp && st.Complete() && mb.scanStart.Sub(st.Latest()) > mtimeSlack {
		return nil
	}
	return mb.scanLocked(nil)
}

// scanLocked rescans the folder. known is the index's key→UID map on the
// first scan, nil afterwards (msgs is then authoritative).
func (mb *mailbox) scanLocked(known map[string]uint32) error {
	start := time.Now()
	mt := mb.folder.ChangeStamp()
	entries, err := mb.folder.Scan()
	if isNotExist(err) {
		entries, err = nil, nil // the folder vanished: all messages are gone
	}
	if err != nil {
		return fmt.Errorf("scan folder %q: %w", mb.name, err)
	}
	changed := false
	added := make(map[string]uint32)
	var removed []string
	seen := make(map[string]bool, len(entries))
	var fresh []maildir.Entry

	if known != nil {
		for _, e := range entries {
			seen[e.Key] = true
			if uid, ok := known[e.Key]; ok && uid != 0 && uid < mb.uidNext {
				m := &message{uid: imap.UID(uid), key: e.Key, flags: e.Flags, kw: maildir.KeywordLetters(e.Info), rawInfo: e.Info, inNew: e.Dir == "new", mtime: e.ModTime, size: -1}
				if r, ok := mb.loadedMods[e.Key]; ok && r.info == e.Info && r.modSeq > 0 {
					m.modSeq = r.modSeq
				} else {
					mb.bumpLocked(m) // changed while serve was not looking
				}
				mb.msgs = append(mb.msgs, m)
				mb.byKey[e.Key] = m
				mb.byUID[m.uid] = m
			} else {
				fresh = append(fresh, e)
			}
		}
		for k := range known {
			if !seen[k] {
				removed = append(removed, k)
			}
		}
		sort.Slice(mb.msgs, func(i, j int) bool { return mb.msgs[i].uid < mb.msgs[j].uid })
		mb.loaded = true
		mb.loadedMods = nil
	} else {
		for _, e := range entries {
			seen[e.Key] = true
			m := mb.byKey[e.Key]
			if m == nil {
				fresh = append(fresh, e)
				continue
			}
			if kw := maildir.KeywordLetters(e.Info); m.flags != e.Flags || m.kw != kw {
				m.flags, m.kw = e.Flags, kw
				changed = true
			}
			if m.rawInfo != e.Info {
				m.rawInfo = e.Info
				mb.bumpLocked(m)
			}
			m.inNew = e.Dir == "new"
			m.mtime = e.ModTime
		}
		kept := mb.msgs[:0]
		for _, m := range mb.msgs {
			if seen[m.key] {
				kept = append(kept, m)
				continue
			}
			removed = append(removed, m.key)
			delete(mb.byKey, m.key)
			delete(mb.byUID, m.uid)
			mb.highestMod++
			changed = true
		}
		for i := len(kept); i < len(mb.msgs); i++ {
			mb.msgs[i] = nil
		}
		mb.msgs = kept
	}
	sort.SliceStable(fresh, func(i, j int) bool { return keyLess(fresh[i].Key, fresh[j].Key) })
	for _, e := range fresh {
		m := mb.addLocked(e)
		added[e.Key] = uint32(m.uid)
		changed = true
	}
	if len(added) > 0 || len(removed) > 0 || mb.pendingMods != nil {
		if err := mb.commitLocked(added, removed); err != nil {
			return err
		}
	}
	mb.scanStamp, mb.scanStart = mt, start
	if changed {
		mb.notifyLocked()
	}
	return nil
}

// addLocked gives e the next UID. The caller commits it to the index.
func (mb *mailbox) addLocked(e maildir.Entry) *message {
	m := &message{uid: imap.UID(mb.uidNext), key: e.Key, flags: e.Flags, kw: maildir.KeywordLetters(e.Info), rawInfo: e.Info, inNew: e.Dir == "new", mtime: e.ModTime, size: -1}
	mb.bumpLocked(m)
	mb.uidNext++
	mb.msgs = append(mb.msgs, m)
	mb.byKey[e.Key] = m
	mb.byUID[m.uid] = m
	return m
}

// deliverLocked records entries just delivered into the folder, in
// order, returning their UIDs: consecutive, in the order given, which
// COPYUID relies on. The caller holds mu from before the deliveries, so
// no rescan can number them first.
func (mb *mailbox) deliverLocked(entries []maildir.Entry) ([]imap.UID, error) {
	uids := make([]imap.UID, len(entries))
	added := make(map[string]uint32)
	for i, e := range entries {
		if m := mb.byKey[e.Key]; m != nil {
			uids[i] = m.uid
			continue
		}
		m := mb.addLocked(e)
		uids[i] = m.uid
		added[e.Key] = uint32(m.uid)
	}
	if len(added) > 0 {
		if err := mb.commitLocked(added, nil); err != nil {
			return nil, err
		}
		mb.notifyLocked()
	}
	return uids, nil
}

// removeLocked drops the message with uid after its file was removed
// and returns its key, which the caller removes from the index
// (forgetKeys) once for a batch.
func (mb *mailbox) removeLocked(uid imap.UID) string {
	m := mb.byUID[uid]
	if m == nil {
		return ""
	}
	delete(mb.byUID, uid)
	delete(mb.byKey, m.key)
	mb.highestMod++
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].uid >= uid })
	if i < len(mb.msgs) && mb.msgs[i] == m {
		mb.msgs = append(mb.msgs[:i], mb.msgs[i+1:]...)
	}
	mb.notifyLocked()
	return m.key
}

// forgetKeys removes expunged keys from the index in one transaction.
// A key left behind by a crash is harmless: the next first scan of the
// folder drops keys whose files are gone.
func (mb *mailbox) forgetKeys(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.gone {
		return nil
	}
	return mb.commitLocked(nil, keys)
}

// bumpLocked gives m the next MODSEQ, to be committed.
func (mb *mailbox) bumpLocked(m *message) {
	mb.highestMod++
	m.modSeq = mb.highestMod
	if mb.pendingMods == nil {
		mb.pendingMods = make(map[string]modRec)
	}
	mb.pendingMods[m.key] = modRec{modSeq: m.modSeq, info: m.rawInfo}
}

// commitLocked writes added and removed keys, the pending MODSEQs and
// HIGHESTMODSEQ to the index in one transaction.
func (mb *mailbox) commitLocked(added map[string]uint32, removed []string) error {
	err := mb.srv.idx.commitFolder(mb.name, added, removed, mb.uidNext, mb.pendingMods, mb.highestMod)
	if err == nil {
		mb.pendingMods = nil
	}
	return err
}

// setFlagsLocked renames the message's file for flags and records them.
func (mb *mailbox) setFlagsLocked(m *message, flags model.Flags) error {
	if m.flags == flags {
		return nil
	}
	e, err := mb.folder.SetFlags(m.key, flags)
	if err != nil {
		return err
	}
	m.flags, m.rawInfo, m.inNew = e.Flags, e.Info, false
	mb.bumpLocked(m)
	mb.notifyLocked()
	return mb.commitLocked(nil, nil)
}

// setInfoLocked renames the message's file for the standard flags and
// keyword letters and records them; managed are the letters the folder's
// keyword map names (others on the file are kept).
func (mb *mailbox) setInfoLocked(m *message, flags model.Flags, kw string) error {
	if m.flags == flags && m.kw == kw {
		return nil
	}
	e, err := mb.folder.SetInfo(m.key, flags, kw, mb.kw.Letters())
	if err != nil {
		return err
	}
	m.flags, m.kw, m.rawInfo, m.inNew = e.Flags, maildir.KeywordLetters(e.Info), e.Info, false
	mb.bumpLocked(m)
	mb.notifyLocked()
	return mb.commitLocked(nil, nil)
}

// claimRecentLocked records that the messages below uid have been
// claimed as \Recent by a session.
func (mb *mailbox) claimRecentLocked(uid uint32) {
	if uid <= mb.firstRecent {
		return
	}
	mb.firstRecent = uid
	if err := mb.srv.idx.setFirstRecent(mb.name, uid); err != nil {
		mb.srv.log.Printf("serve: %v", err)
	}
}

// msgInfo is a copy of a message's fields, usable without the lock.
type msgInfo struct {
	uid    imap.UID
	key    string
	flags  model.Flags
	kw     string
	modSeq uint64
	mtime  time.Time
	size   int64
}

func (m *message) info() msgInfo {
	return msgInfo{uid: m.uid, key: m.key, flags: m.flags, kw: m.kw, modSeq: m.modSeq, mtime: m.mtime, size: m.size}
}

// snapshot returns a copy of the current messages in UID order.
func (mb *mailbox) snapshot() []msgInfo {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	out := make([]msgInfo, len(mb.msgs))
	for i, m := range mb.msgs {
		out[i] = m.info()
	}
	return out
}

func (mb *mailbox) lookup(uid imap.UID) (msgInfo, bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m := mb.byUID[uid]
	if m == nil {
		return msgInfo{}, false
	}
	return m.info(), true
}

func (mb *mailbox) setSize(uid imap.UID, n int64) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if m := mb.byUID[uid]; m != nil {
		m.size = n
	}
}

// read returns the message's bytes as sent to clients (CRLF).
func (mb *mailbox) read(info msgInfo) ([]byte, error) {
	raw, _, err := mb.folder.ReadFile(info.key)
	if err != nil {
		return nil, err
	}
	b := model.ToCRLF(raw)
	if info.size < 0 {
		mb.setSize(info.uid, int64(len(b)))
	}
	return b, nil
}

// sizeOf returns RFC822.SIZE, reading the file when it is not known yet.
func (mb *mailbox) sizeOf(info msgInfo) (int64, error) {
	if info.size >= 0 {
		return info.size, nil
	}
	raw, _, err := mb.folder.ReadFile(info.key)
	if err != nil {
		return 0, err
	}
	n := model.CRLFSize(raw)
	mb.setSize(info.uid, n)
	return n, nil
}

// keyLess orders message keys by arrival: keys made by maildir.NewKey,
// Dovecot and most MDAs start "<unix seconds>.M<microseconds>", compared
// here as numbers (a plain string sort puts "M99" after "M100"). Keys
// that do not follow the pattern compare as strings after that.
func keyLess(a, b string) bool {
	as, au, arest := splitKey(a)
	bs, bu, brest := splitKey(b)
	if as != bs {
		return as < bs
	}
	if au != bu {
		return au < bu
	}
	return arest < brest
}

func splitKey(k string) (sec, usec uint64, rest string) {
	i := 0
	for i < len(k) && k[i] >= '0' && k[i] <= '9' && i < 19 {
		sec = sec*10 + uint64(k[i]-'0')
		i++
	}
	if strings.HasPrefix(k[i:], ".M") {
		j := i + 2
		for j < len(k) && k[j] >= '0' && k[j] <= '9' && j-i < 12 {
			usec = usec*10 + uint64(k[j]-'0')
			j++
		}
		i = j
	}
	return sec, usec, k[i:]
}
