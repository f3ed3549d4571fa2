package serve

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// session is one IMAP connection. imapserver calls its methods one at a
// time, except that Idle runs in its own goroutine and may still be
// running when Close is called after a disconnect: mu serialises them.
//
// The session's view is the list of messages it has told the client
// about, in sequence-number order (seq = index+1), with the flags last
// told. Sequence numbers only change when the session writes EXPUNGE or
// EXISTS, so they always agree with what the client knows.
type session struct {
	srv    *Server
	remote string // client address (host), for the login guard and logs

	mu        sync.Mutex
	user      bool
	sel       *mailbox
	readOnly  bool // EXAMINE, or the server is read-only
	view      []viewMsg
	maxTold   imap.UID
	searchRes imap.UIDSet
	toldKw    string // the folder's keyword names last told in FLAGS
	// condStore: the client has used CONDSTORE (SELECT (CONDSTORE), FETCH
	// MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE), so FETCH responses
	// that carry FLAGS carry MODSEQ too (RFC 7162 3.2).
	condStore bool
}

type viewMsg struct {
	uid    imap.UID
	flags  model.Flags
	kw     string // keyword letters last told
	recent bool   // \Recent in this session
}

var (
	_ imapserver.SessionIMAP4rev2 = (*session)(nil)
	_ imapserver.SessionSASL      = (*session)(nil)
)

func errNo(code imap.ResponseCode, format string, args ...any) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: fmt.Sprintf(format, args...)}
}

var errReadOnly = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "read-only archive"}

func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unselectLocked()
	return nil
}

func (s *session) Login(username, password string) error {
	if s.srv.auth.blocked(s.remote) {
		s.srv.log.Printf("serve: %s: login for %q refused: too many failures", s.remote, username)
		return errLoginBlocked
	}
	if !s.srv.checkLogin(username, password) {
		d := s.srv.auth.failed(s.remote)
		s.srv.log.Printf("serve: %s: failed login for %q", s.remote, username)
		time.Sleep(d)
		return imapserver.ErrAuthFailed
	}
	s.srv.auth.succeeded(s.remote)
	s.mu.Lock()
	s.user = true
	s.mu.Unlock()
	return nil
}

// AuthenticateMechanisms offers PLAIN only; LOGIN is the other way in.
func (s *session) AuthenticateMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Authenticate(mech string) (sasl.Server, error) {
	if !strings.EqualFold(mech, sasl.Plain) {
		return nil, errNo("", "SASL mechanism not supported")
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return errNo(imap.ResponseCodeAuthorizationFailed, "SASL identity not supported")
		}
		return s.Login(username, password)
	}), nil
}

// folderName canonicalises a mailbox name from a client.
func folderName(name string) (string, error) {
	name = strings.TrimSuffix(name, "/")
	clean, err := model.CleanFolderName(name)
	if err != nil {
		return "", errNo(imap.ResponseCodeCannot, "%v", err)
	}
	return clean, nil
}

// existingFolder returns the folder called name if it exists.
func (s *session) existingFolder(name string, code imap.ResponseCode) (*maildir.Folder, error) {
	clean, err := folderName(name)
	if err != nil {
		return nil, err
	}
	f, err := s.srv.md.Folder(clean)
	if err != nil {
		return nil, errNo(imap.ResponseCodeCannot, "invalid mailbox name %q", clean)
	}
	if !f.Exists() {
		return nil, errNo(code, "no such mailbox %q", clean)
	}
	if err := s.srv.md.Confined(f); err != nil {
		s.srv.log.Printf("serve: %s: refused mailbox %q: %v", s.remote, clean, err)
		return nil, errNo(imap.ResponseCodeNoPerm, "mailbox %q is a link that leaves the mail directory", clean)
	}
	return f, nil
}

// ---- selection and updates ----

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
		if err := w.WriteMessageFlags(uint32(i+1), v.uid, mb.flagList(v.flags, v.kw, v.recent)); err != nil {
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

// ---- mailbox management ----

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}, nil
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	if s.srv.opts.ReadOnly {
		return errReadOnly
	}
	clean, err := folderName(name)
	if err != nil {
		return err
	}
	f, err := s.srv.md.Folder(clean)
	if err != nil {
		return errNo(imap.ResponseCodeCannot, "invalid mailbox name %q", clean)
	}
	if f.Exists() {
		return errNo(imap.ResponseCodeAlreadyExists, "mailbox %q already exists", clean)
	}
	if _, err := s.srv.md.CreateFolder(clean); err != nil {
		s.srv.log.Printf("serve: create %q: %v", clean, err)
		return errNo(imap.ResponseCodeCannot, "cannot create %q", clean)
	}
	// A folder made before (or by another program) under the same name
	// must not get its old UIDVALIDITY back.
	s.srv.forget([]string{clean})
	return s.srv.idx.forgetFolder(clean)
}

func (s *session) Delete(name string) error {
	if s.srv.opts.ReadOnly {
		return errReadOnly
	}
	clean, err := folderName(name)
	if err != nil {
		return err
	}
	if clean == model.Inbox {
		return errNo(imap.ResponseCodeCannot, "INBOX cannot be deleted")
	}
	f, err := s.srv.md.Folder(clean)
	if err != nil {
		return errNo(imap.ResponseCodeCannot, "invalid mailbox name %q", clean)
	}
	if !f.Exists() {
		return errNo(imap.ResponseCodeNonExistent, "no such mailbox %q", clean)
	}
	s.srv.forget([]string{clean})
	if err := s.srv.md.RemoveFolder(clean); err != nil {
		s.srv.log.Printf("serve: delete %q: %v", clean, err)
		return errNo(imap.ResponseCodeCannot, "cannot delete %q", clean)
	}
	return s.srv.idx.forgetFolder(clean)
}

// Rename renames the folder and its children (maildir.RenameFolder).
// INBOX cannot be renamed (RFC 3501's move-the-messages semantics are not
// implemented).
func (s *session) Rename(name, newName string, options *imap.RenameOptions) error {
	if s.srv.opts.ReadOnly {
		return errReadOnly
	}
	from, err := folderName(name)
	if err != nil {
		return err
	}
	to, err := folderName(newName)
	if err != nil {
		return err
	}
	if from == model.Inbox || to == model.Inbox {
		return errNo(imap.ResponseCodeCannot, "INBOX cannot be renamed")
	}
	if from == to || strings.HasPrefix(to, from+"/") {
		return errNo(imap.ResponseCodeCannot, "cannot rename %q into itself", from)
	}
	// The shared state of every folder involved is dropped first, so
	// that no session keeps writing into a directory being renamed.
	all, err := s.srv.md.Folders()
	if err != nil {
		return err
	}
	var names []string
	for _, n := range all {
		if n == from || strings.HasPrefix(n, from+"/") {
			names = append(names, n, to+n[len(from):])
		}
	}
	if len(names) == 0 {
		return errNo(imap.ResponseCodeNonExistent, "no such mailbox %q", from)
	}
	s.srv.forget(names)
	moves, err := s.srv.md.RenameFolder(from, to)
	if len(moves) > 0 {
		// Renamed folders get new UIDVALIDITYs.
		if ferr := s.srv.idx.forgetFolder(names...); err == nil {
			err = ferr
		}
	}
	switch {
	case errors.Is(err, maildir.ErrFolderExists):
		return errNo(imap.ResponseCodeAlreadyExists, "a mailbox under the name %q already exists", to)
	case isNotExist(err) && len(moves) == 0:
		return errNo(imap.ResponseCodeNonExistent, "no such mailbox %q", from)
	case err != nil:
		s.srv.log.Printf("serve: rename %q to %q: %v", from, to, err)
		return errNo(imap.ResponseCodeCannot, "cannot rename %q", from)
	}
	return s.srv.idx.renameSubscriptions(from, to)
}

func (s *session) Subscribe(name string) error {
	clean, err := folderName(name)
	if err != nil {
		return err
	}
	return s.srv.idx.setSubscribed(clean, true)
}

func (s *session) Unsubscribe(name string) error {
	clean, err := folderName(name)
	if err != nil {
		return err
	}
	return s.srv.idx.setSubscribed(clean, false)
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, err := s.existingFolder(name, imap.ResponseCodeNonExistent)
	if err != nil {
		return nil, err
	}
	return s.status(f.Name(), options)
}

func (s *session) status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	mb, err := s.srv.acquire(name)
	if err != nil {
		return nil, err
	}
	defer s.srv.release(mb)
	if err := mb.refresh(); err != nil {
		s.srv.log.Printf("serve: status %q: %v", name, err)
		return nil, errNo(imap.ResponseCodeServerBug, "cannot read mailbox %q", name)
	}
	msgs := mb.snapshot()
	mb.mu.Lock()
	data := &imap.StatusData{Mailbox: name, UIDNext: imap.UID(mb.uidNext), UIDValidity: mb.validity, HighestModSeq: mb.highestMod}
	mb.mu.Unlock()
	if !options.UIDNext {
		data.UIDNext = 0
	}
	if !options.UIDValidity {
		data.UIDValidity = 0
	}
	count := func(f model.Flags, want bool) *uint32 {
		var n uint32
		for _, m := range msgs {
			if (m.flags&f != 0) == want {
				n++
			}
		}
		return &n
	}
	if options.NumMessages {
		n := uint32(len(msgs))
		data.NumMessages = &n
	}
	if options.NumRecent {
		mb.mu.Lock()
		first := mb.firstRecent
		mb.mu.Unlock()
		var n uint32
		for _, m := range msgs {
			if uint32(m.uid) >= first {
				n++
			}
		}
		data.NumRecent = &n
	}
	if options.NumUnseen {
		data.NumUnseen = count(model.FlagSeen, false)
	}
	if options.NumDeleted {
		data.NumDeleted = count(model.FlagTrashed, true)
	}
	if options.Size {
		var total int64
		for _, m := range msgs {
			if n, err := mb.sizeOf(m); err == nil {
				total += n
			}
		}
		data.Size = &total
	}
	return data, nil
}

// ---- APPEND, COPY, MOVE ----

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

// ---- STORE ----

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

// ---- SEARCH ----

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

