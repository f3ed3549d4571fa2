package serve

// Commands on the messages of the selected folder: STORE and SEARCH.
// FETCH is in fetch.go.

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return errReadOnly
	}
	given, kwNames := splitFlags(flags.Flags)
	mb := s.sel
	var failed error
	var givenKw string
	if len(kwNames) > 0 {
		mb.mu.Lock()
		var err error
		if flags.Op == imap.StoreFlagsDel {
			givenKw, _ = mb.kw.LettersOf(kwNames)
		} else {
			givenKw, err = mb.addKeywordsLocked(kwNames)
		}
		mb.mu.Unlock()
		if err != nil {
			s.srv.log.Printf("serve: store in %q: %v", mb.name, err)
			return errNo(imap.ResponseCodeLimit, "cannot store keywords in %q (a folder holds at most 26)", mb.name)
		}
	}
	if options.UnchangedSince > 0 {
		s.condStore = true
	}
	var results []int
	var modSeqs []uint64
	var modified imap.NumSet
	var modSeqSet imap.SeqSet
	var modUIDSet imap.UIDSet
	for _, i := range s.resolve(numSet) {
		uid := s.view[i].uid
		mb.mu.Lock()
		m := mb.byUID[uid]
		if m == nil {
			mb.mu.Unlock()
			continue
		}
		if options.UnchangedSince > 0 && m.modSeq > options.UnchangedSince {
			// RFC 7162 3.1.3: changed since the client looked; not stored.
			mb.mu.Unlock()
			if _, isUID := numSet.(imap.UIDSet); isUID {
				modUIDSet.AddNum(uid)
				modified = modUIDSet
			} else {
				modSeqSet.AddNum(uint32(i + 1))
				modified = modSeqSet
			}
			continue
		}
		nf, nkw := m.flags, m.kw
		switch flags.Op {
		case imap.StoreFlagsSet:
			nf, nkw = given, givenKw
		case imap.StoreFlagsAdd:
			nf, nkw = nf|given, letterUnion(nkw, givenKw)
		case imap.StoreFlagsDel:
			nf, nkw = nf&^given, letterMinus(nkw, givenKw)
		}
		err := mb.setInfoLocked(m, nf, nkw)
		if isNotExist(err) {
			err = nil // gone; the next rescan expunges it
		}
		nf, nkw = m.flags, m.kw
		ms := m.modSeq
		mb.mu.Unlock()
		if err != nil {
			if failed == nil {
				failed = err
			}
			continue
		}
		s.view[i].flags, s.view[i].kw = nf, nkw
		results = append(results, i)
		modSeqs = append(modSeqs, ms)
	}
	for j, i := range results {
		// With CONDSTORE even .SILENT reports the new MODSEQ (RFC 7162
		// 3.1.3); FLAGS only without .SILENT.
		if flags.Silent && !s.condStore {
			continue
		}
		v := s.view[i]
		rw := w.CreateMessage(uint32(i + 1))
		rw.WriteUID(v.uid)
		if !flags.Silent {
			rw.WriteFlags(mb.flagList(v.flags, v.kw, v.recent))
		}
		if s.condStore {
			rw.WriteModSeq(modSeqs[j])
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	if failed != nil {
		s.srv.log.Printf("serve: store in %q: %v", mb.name, failed)
		return errNo(imap.ResponseCodeServerBug, "some flags in %q could not be changed", mb.name)
	}
	if modified != nil {
		return &imap.Error{Type: imap.StatusResponseTypeOK, Code: imap.ResponseCode("MODIFIED " + modified.String()), Text: "Conditional STORE failed"}
	}
	return nil
}

func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sel == nil {
		return nil, errNo("", "no mailbox selected")
	}
	s.staticCriteria(criteria)
	mb := s.sel
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for i, v := range s.view {
		info, ok := mb.lookup(v.uid)
		if !ok {
			continue
		}
		m := &searchMsg{
			seq:    uint32(i + 1),
			uid:    v.uid,
			flags:  info.flags,
			kw:     mb.flagList(0, info.kw, false),
			recent: v.recent,
			date:   info.mtime,
			size:   info.size,
			load:   func() ([]byte, error) { return mb.read(info) },
		}
		if !matchSearch(m, criteria) {
			continue
		}
		uids.AddNum(v.uid)
		num := uint32(i + 1)
		if kind == imapserver.NumKindUID {
			num = uint32(v.uid)
		} else {
			seqs.AddNum(num)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options.ReturnSave {
		s.searchRes = uids
	}
	return data, nil
}

func (s *session) staticCriteria(c *imap.SearchCriteria) {
	var max imap.UID
	if len(s.view) > 0 {
		max = s.view[len(s.view)-1].uid
	}
	var seqs []imap.SeqSet
	for _, set := range c.SeqNum {
		seqs = append(seqs, staticSeqSet(set, uint32(len(s.view))))
	}
	c.SeqNum = seqs
	for i, set := range c.UID {
		if imap.IsSearchRes(set) {
			c.UID[i] = s.searchRes
			if c.UID[i] == nil {
				c.UID[i] = imap.UIDSet{}
			}
			continue
		}
		c.UID[i] = staticUIDSet(set, max)
	}
	for i := range c.Not {
		s.staticCriteria(&c.Not[i])
	}
	for i := range c.Or {
		s.staticCriteria(&c.Or[i][0])
		s.staticCriteria(&c.Or[i][1])
	}
}
