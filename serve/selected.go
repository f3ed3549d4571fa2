package serve

// The selected state: SELECT/EXAMINE, the session's view of the folder
// and the updates (EXISTS, EXPUNGE, FETCH FLAGS, RECENT) that keep it in
// step, and how message sets name messages of the view.

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailsync/mailsync/model"
)

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	f, err := s.existingFolder(name, imap.ResponseCodeNonExistent)
	if err != nil {
		return nil, err
	}
	mb, err := s.srv.acquire(f.Name())
	if err != nil {
		return nil, err
	}
	if err := mb.refresh(); err != nil {
		s.srv.release(mb)
		s.srv.log.Printf("serve: select %q: %v", f.Name(), err)
		return nil, errNo(imap.ResponseCodeServerBug, "cannot read mailbox %q", f.Name())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unselectLocked()
	s.sel = mb
	s.readOnly = options.ReadOnly || s.srv.opts.ReadOnly
	s.condStore = s.condStore || options.CondStore

	mb.mu.Lock()
	if !s.readOnly {
		// Dovecot takes new mail in on SELECT: new/ to cur/.
		moved := false
		for _, m := range mb.msgs {
			if m.inNew {
				if _, err := mb.folder.MoveToCur(m.key); err != nil && !isNotExist(err) {
					s.srv.log.Printf("serve: select %q: %v", mb.name, err)
				}
				m.inNew, moved = false, true
			}
		}
		if moved {
			if err := mb.folder.SyncDirs(); err != nil {
				s.srv.log.Printf("serve: select %q: %v", mb.name, err)
			}
		}
	}
	s.view = make([]viewMsg, len(mb.msgs))
	var firstUnseen, recent uint32
	for i, m := range mb.msgs {
		s.view[i] = viewMsg{uid: m.uid, flags: m.flags, kw: m.kw, recent: uint32(m.uid) >= mb.firstRecent}
		if s.view[i].recent {
			recent++
		}
		if firstUnseen == 0 && m.flags&model.FlagSeen == 0 {
			firstUnseen = uint32(i + 1)
		}
	}
	if !s.readOnly {
		mb.claimRecentLocked(mb.uidNext)
	}
	kws := mb.kw.All()
	s.toldKw = strings.Join(kws, " ")
	data := &imap.SelectData{
		Flags:             mailboxFlags(kws),
		PermanentFlags:    append(mailboxFlags(kws), imap.FlagWildcard),
		NumMessages:       uint32(len(mb.msgs)),
		NumRecent:         recent,
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(mb.uidNext),
		UIDValidity:       mb.validity,
		HighestModSeq:     mb.highestMod,
	}
	mb.mu.Unlock()
	if len(s.view) > 0 {
		s.maxTold = s.view[len(s.view)-1].uid
	} else {
		s.maxTold = 0
	}
	if s.readOnly {
		data.PermanentFlags = []imap.Flag{}
	}
	return data, nil
}

func allFlags() []imap.Flag {
	var out []imap.Flag
	for _, f := range model.AllFlags.IMAP() {
		out = append(out, imap.Flag(f))
	}
	return out
}

func imapFlags(f model.Flags) []imap.Flag {
	out := []imap.Flag{}
	for _, n := range f.IMAP() {
		out = append(out, imap.Flag(n))
	}
	return out
}

func (s *session) Unselect() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unselectLocked()
	return nil
}

func (s *session) unselectLocked() {
	if s.sel != nil {
		s.srv.release(s.sel)
	}
	s.sel = nil
	s.view = nil
	s.maxTold = 0
	s.searchRes = nil
	s.readOnly = false
	s.toldKw = ""
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked(w, allowExpunge)
}

// syncLocked rescans the selected folder and tells the client what
// changed since its view: EXPUNGE for vanished messages (when allowed),
// FETCH FLAGS for flag changes, EXISTS for new messages.
func (s *session) syncLocked(w *imapserver.UpdateWriter, allowExpunge bool) error {
	mb := s.sel
	if mb == nil {
		return nil
	}
	if err := mb.refresh(); err != nil {
		s.srv.log.Printf("serve: rescan %q: %v", mb.name, err)
	}
	cur := mb.snapshot()
	byUID := make(map[imap.UID]msgInfo, len(cur))
	for _, m := range cur {
		byUID[m.uid] = m
	}
	if kws := mb.keywordNames(); strings.Join(kws, " ") != s.toldKw {
		s.toldKw = strings.Join(kws, " ")
		if err := w.WriteMailboxFlags(mailboxFlags(kws)); err != nil {
			return err
		}
	}
	if allowExpunge {
		for i := len(s.view) - 1; i >= 0; i-- {
			if _, ok := byUID[s.view[i].uid]; ok {
				continue
			}
			if err := w.WriteExpunge(uint32(i + 1)); err != nil {
				return err
			}
			s.view = append(s.view[:i], s.view[i+1:]...)
		}
	}
	for i := range s.view {
		v := &s.view[i]
		m, ok := byUID[v.uid]
		if !ok || (m.flags == v.flags && m.kw == v.kw) {
			continue
		}
		v.flags, v.kw = m.flags, m.kw
		var err error
		if s.condStore {
			err = w.WriteMessageFlagsModSeq(uint32(i+1), v.uid, mb.flagList(v.flags, v.kw, v.recent), m.modSeq)
		} else {
			err = w.WriteMessageFlags(uint32(i+1), v.uid, mb.flagList(v.flags, v.kw, v.recent))
		}
		if err != nil {
			return err
		}
	}
	n := len(s.view)
	var newest imap.UID
	for _, m := range cur {
		if m.uid > s.maxTold {
			s.view = append(s.view, viewMsg{uid: m.uid, flags: m.flags, kw: m.kw})
			s.maxTold, newest = m.uid, m.uid
		}
	}
	if len(s.view) > n {
		// New messages are \Recent here if no session claimed them yet.
		mb.mu.Lock()
		anyRecent := false
		for i := n; i < len(s.view); i++ {
			s.view[i].recent = uint32(s.view[i].uid) >= mb.firstRecent
			anyRecent = anyRecent || s.view[i].recent
		}
		if !s.readOnly {
			mb.claimRecentLocked(uint32(newest) + 1)
		}
		mb.mu.Unlock()
		if err := w.WriteNumMessages(uint32(len(s.view))); err != nil {
			return err
		}
		if anyRecent {
			return w.WriteNumRecent(s.numRecent())
		}
	}
	return nil
}

func (s *session) numRecent() uint32 {
	var n uint32
	for _, v := range s.view {
		if v.recent {
			n++
		}
	}
	return n
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	ticker := time.NewTicker(s.srv.opts.PollInterval)
	defer ticker.Stop()
	for {
		s.mu.Lock()
		var changed <-chan struct{}
		if s.sel != nil {
			changed = s.sel.changedChan()
		}
		err := s.syncLocked(w, true)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-changed:
		case <-ticker.C:
		}
	}
}

// resolve returns the view indexes numSet names, in ascending order.
func (s *session) resolve(numSet imap.NumSet) []int {
	var out []int
	if imap.IsSearchRes(numSet) {
		numSet = s.searchRes
	}
	switch set := numSet.(type) {
	case imap.SeqSet:
		set = staticSeqSet(set, uint32(len(s.view)))
		for i := range s.view {
			if set.Contains(uint32(i + 1)) {
				out = append(out, i)
			}
		}
	case imap.UIDSet:
		var max imap.UID
		if len(s.view) > 0 {
			max = s.view[len(s.view)-1].uid
		}
		set = staticUIDSet(set, max)
		for i, v := range s.view {
			if set.Contains(v.uid) {
				out = append(out, i)
			}
		}
	}
	return out
}

func staticRange(start, stop *uint32, max uint32) {
	dyn := false
	if *start == 0 {
		*start, dyn = max, true
	}
	if *stop == 0 {
		*stop, dyn = max, true
	}
	if dyn && *start > *stop {
		*start, *stop = *stop, *start
	}
}

func staticSeqSet(set imap.SeqSet, max uint32) imap.SeqSet {
	out := make(imap.SeqSet, len(set))
	copy(out, set)
	for i := range out {
		staticRange(&out[i].Start, &out[i].Stop, max)
	}
	return out
}

func staticUIDSet(set imap.UIDSet, max imap.UID) imap.UIDSet {
	out := make(imap.UIDSet, len(set))
	copy(out, set)
	for i := range out {
		staticRange((*uint32)(&out[i].Start), (*uint32)(&out[i].Stop), uint32(max))
	}
	return out
}

// EnableCondStore is ENABLE CONDSTORE: FETCH responses with FLAGS carry
// MODSEQ from now on.
func (s *session) EnableCondStore() {
	s.mu.Lock()
	s.condStore = true
	s.mu.Unlock()
}
