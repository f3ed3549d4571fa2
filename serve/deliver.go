package serve

// Commands that add or remove messages: APPEND, COPY, MOVE, EXPUNGE.

import (
	"bytes"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// staged is a message written to a folder's tmp/ and not yet delivered.
type staged struct {
	file     *maildir.Staged
	flags    model.Flags
	keywords []string
}

func discardAll(msgs []staged) {
	for _, m := range msgs {
		m.file.Discard()
	}
}

// deliver moves staged messages into folder f under the folder's lock,
// so that they get consecutive UIDs in order, giving them their flags
// and keywords (added to the folder's keyword map as needed). Every
// staged file is delivered or discarded.
func (s *session) deliver(f *maildir.Folder, msgs []staged) (uint32, []imap.UID, error) {
	mb, err := s.srv.acquire(f.Name())
	if err != nil {
		discardAll(msgs)
		return 0, nil, err
	}
	defer s.srv.release(mb)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.refreshLocked(); err != nil {
		discardAll(msgs)
		return 0, nil, err
	}
	var entries []maildir.Entry
	fail := func(i int, err error) (uint32, []imap.UID, error) {
		discardAll(msgs[i:])
		for _, e := range entries {
			mb.folder.Remove(e.Key)
		}
		return 0, nil, err
	}
	for i, m := range msgs {
		var letters string
		if len(m.keywords) > 0 {
			l, err := mb.addKeywordsLocked(m.keywords)
			if err != nil && !errors.Is(err, maildir.ErrTooManyKeywords) {
				return fail(i, err)
			}
			letters = l
		}
		e, err := m.file.Deliver(m.flags, letters)
		if err != nil {
			return fail(i+1, err)
		}
		entries = append(entries, e)
	}
	if err := mb.folder.SyncDirs(); err != nil {
		return fail(len(msgs), err)
	}
	uids, err := mb.deliverLocked(entries)
	if err != nil {
		return 0, nil, err
	}
	return mb.validity, uids, nil
}

func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if s.srv.opts.ReadOnly {
		return nil, errReadOnly
	}
	f, err := s.existingFolder(name, imap.ResponseCodeTryCreate)
	if err != nil {
		return nil, err
	}
	flags, keywords := splitFlags(options.Flags)
	date := options.Time
	if date.IsZero() {
		date = time.Now()
	}
	// The literal streams to tmp/ (as LF text) without the folder's
	// lock and without being held in memory.
	st, err := f.Stage(newLFReader(r), date)
	if err != nil {
		s.srv.log.Printf("serve: append to %q: %v", f.Name(), err)
		return nil, errNo(imap.ResponseCodeServerBug, "cannot store message in %q", f.Name())
	}
	validity, uids, err := s.deliver(f, []staged{{file: st, flags: flags, keywords: keywords}})
	if err != nil {
		s.srv.log.Printf("serve: append to %q: %v", f.Name(), err)
		return nil, errNo(imap.ResponseCodeServerBug, "cannot store message in %q", f.Name())
	}
	return &imap.AppendData{UIDValidity: validity, UID: uids[0]}, nil
}

// sources returns the messages numSet names that still exist.
func (s *session) sources(numSet imap.NumSet) ([]int, []msgInfo) {
	var idx []int
	var infos []msgInfo
	for _, i := range s.resolve(numSet) {
		if info, ok := s.sel.lookup(s.view[i].uid); ok {
			idx = append(idx, i)
			infos = append(infos, info)
		}
	}
	return idx, infos
}

func (s *session) copyLocked(numSet imap.NumSet, dest string) (*imap.CopyData, []int, error) {
	if s.srv.opts.ReadOnly {
		return nil, nil, errReadOnly
	}
	if s.sel == nil {
		return nil, nil, errNo("", "no mailbox selected")
	}
	f, err := s.existingFolder(dest, imap.ResponseCodeTryCreate)
	if err != nil {
		return nil, nil, err
	}
	idx, infos := s.sources(numSet)
	if len(infos) == 0 {
		return nil, nil, nil
	}
	src := s.sel
	var msgs []staged
	var err2 error
	for _, info := range infos {
		body, e, err := src.folder.ReadFile(info.key)
		if err != nil {
			err2 = err
			break
		}
		st, err := f.Stage(bytes.NewReader(body), e.ModTime)
		if err != nil {
			err2 = err
			break
		}
		msgs = append(msgs, staged{file: st, flags: e.Flags, keywords: src.keywordNamesOf(maildir.KeywordLetters(e.Info))})
	}
	var validity uint32
	var uids []imap.UID
	if err2 != nil {
		discardAll(msgs)
		err = err2
	} else {
		validity, uids, err = s.deliver(f, msgs)
	}
	if isNotExist(err) {
		return nil, nil, errNo(imap.ResponseCode("EXPUNGEISSUED"), "some of the messages no longer exist")
	}
	if err != nil {
		s.srv.log.Printf("serve: copy to %q: %v", f.Name(), err)
		return nil, nil, errNo(imap.ResponseCodeServerBug, "cannot copy to %q", f.Name())
	}
	data := &imap.CopyData{UIDValidity: validity}
	for i := range infos {
		data.SourceUIDs.AddNum(infos[i].uid)
		data.DestUIDs.AddNum(uids[i])
	}
	return data, idx, nil
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, _, err := s.copyLocked(numSet, dest)
	return data, err
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return errReadOnly
	}
	data, idx, err := s.copyLocked(numSet, dest)
	if err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	if err := w.WriteCopyData(data); err != nil {
		return err
	}
	return s.expungeIndexes(idx, w.WriteExpunge)
}

// expungeIndexes removes the files of the view messages at idx
// (ascending) and writes EXPUNGE for each, highest first so that the
// numbers written stay valid.
func (s *session) expungeIndexes(idx []int, write func(uint32) error) error {
	mb := s.sel
	var firstErr error
	var keys []string
	defer func() {
		if err := mb.forgetKeys(keys); err != nil {
			s.srv.log.Printf("serve: expunge in %q: %v", mb.name, err)
		}
	}()
	for j := len(idx) - 1; j >= 0; j-- {
		i := idx[j]
		uid := s.view[i].uid
		mb.mu.Lock()
		m := mb.byUID[uid]
		var err error
		if m != nil {
			err = mb.folder.Remove(m.key)
			if err == nil || isNotExist(err) {
				err = nil
				keys = append(keys, mb.removeLocked(uid))
			}
		}
		mb.mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.view = append(s.view[:i], s.view[i+1:]...)
		if err := write(uint32(i + 1)); err != nil {
			return err
		}
	}
	if firstErr != nil {
		s.srv.log.Printf("serve: expunge in %q: %v", mb.name, firstErr)
		return errNo(imap.ResponseCodeServerBug, "some messages in %q could not be removed", mb.name)
	}
	return nil
}

// Expunge removes the \Deleted messages of the session's view (those in
// uids for UID EXPUNGE). CLOSE calls it with a writer that writes
// nothing; on a read-only selection CLOSE then expunges nothing and
// succeeds, as RFC 3501 requires, while EXPUNGE gets NO.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	isClose := *w == (imapserver.ExpungeWriter{})
	if s.readOnly {
		if isClose {
			return nil
		}
		return errReadOnly
	}
	if s.sel == nil {
		return nil
	}
	if err := s.sel.refresh(); err != nil {
		s.srv.log.Printf("serve: rescan %q: %v", s.sel.name, err)
	}
	var idx []int
	for i, v := range s.view {
		if uids != nil && !uids.Contains(v.uid) {
			continue
		}
		if info, ok := s.sel.lookup(v.uid); ok && info.flags&model.FlagTrashed != 0 {
			idx = append(idx, i)
		}
	}
	return s.expungeIndexes(idx, w.WriteExpunge)
}
