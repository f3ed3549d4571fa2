package serve

import (
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
