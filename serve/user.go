package serve

// The authenticated state: folders (NAMESPACE, CREATE, DELETE, RENAME,
// SUBSCRIBE) and STATUS. LIST is in list.go.

import (
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

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
