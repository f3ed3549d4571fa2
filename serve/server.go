// Package serve publishes a mailsync Maildir over IMAP.
//
// serve owns an IMAP server (go-imap v2's imapserver) in front of one
// Maildir++ tree, reached only through package maildir, and a small bbolt
// file of its own, the UID index, which maps each folder's message keys to
// IMAP UIDs. It promises:
//
//   - Byte-exact messages. A client fetching BODY[] gets the Maildir file
//     with every bare LF turned into CRLF (model.ToCRLF) and nothing else
//     changed: lone CRs and 8-bit bytes are kept, and RFC822.SIZE is the
//     length of exactly those bytes. APPENDed messages are streamed to tmp/
//     with CRLF turned into LF (bare CR, bare LF and NUL kept), so a
//     fetch gives what Dovecot gives; BODY[] sends 0x80 for NUL (a
//     literal may not hold NUL), BINARY[] the real bytes. INTERNALDATE
//     is the file mtime, and an APPEND date sets it.
//
//   - Stable UIDs. Each folder has a UIDVALIDITY and a key→UID map in the
//     index. A UID is never reused (UIDNEXT is persisted), a message whose
//     file is renamed (flags changed by another program) keeps its UID,
//     and a folder that is deleted, renamed or recreated gets a new
//     UIDVALIDITY. Only one serve may use an index at a time: New fails
//     with ErrIndexInUse rather than waiting.
//
//   - Changes on disk are announced. Files that sync or any other program
//     add, rename or remove are found by rescanning the folder (cheaply:
//     only when new/ or cur/ changed) after every command and, during
//     IDLE, every Options.PollInterval, and each connected client is told
//     with EXISTS, EXPUNGE and FETCH FLAGS, in sequence numbers consistent
//     with what that client has been told before.
//
//   - Writes are durable. A flag change renames the file, APPEND/COPY/MOVE
//     deliver through maildir (fsync, rename, fsync the directory), and
//     EXPUNGE removes the file; the UID index records new keys only after
//     their files are durable. With Options.ReadOnly, every command that
//     would change the Maildir is refused with NO [NOPERM] read-only
//     archive, and fetching a body does not set \Seen.
//
// Flags: the six flags that Maildir and model know (\Seen \Answered
// \Flagged \Deleted \Draft $Forwarded) are the file name's capital
// letters; any other keyword is kept the way Dovecot keeps it, as a
// lowercase letter named in the folder's dovecot-keywords file (package
// maildir's Keywords), so PERMANENTFLAGS has \* (at most 26 keywords per
// folder). \Recent follows Dovecot: a message is recent in the first
// session that selects the folder (or has it selected) after it arrived;
// SELECT moves new/ files to cur/ as Dovecot does, EXAMINE does not.
//
// CONDSTORE: every message has a MODSEQ kept in the index with the info
// part it was given for; a change made by serve or found on disk
// (including while serve was not running) gives a new one, and
// HIGHESTMODSEQ never decreases.
//
// Protection: failed logins are delayed and then refused per client
// address, connections are capped per address and in total, a folder that
// is a symbolic link out of the Maildir is refused, and error replies
// name folders, never server paths.
//
// The server keeps no per-connection state once a connection ends: the
// shared per-folder state is reference-counted and dropped with its last
// session.
package serve

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailsync/mailsync/maildir"
)

// DefaultIndexName is the file name of the UID index at the Maildir root
// when Options.IndexPath is empty. It is a dotfile that is not a
// directory, so Maildir++ readers (maildir.Folders, mbsync, Dovecot) never
// take it for a folder.
const DefaultIndexName = ".mailsync-serve.db"

// Options configures a Server.
type Options struct {
	// Maildir is the root of the Maildir++ tree (the INBOX). It must
	// exist.
	Maildir string
	// Layout is the Maildir's layout: "" (Maildir++, refusing a tree of
	// nested folders), maildir.LayoutMaildirPP or maildir.LayoutFS
	// (nested folders, as mbsync and OfflineIMAP write them); see
	// maildir.OpenLayout.
	Layout maildir.Layout
	// IndexPath is the bbolt file holding UIDs and subscriptions; empty
	// means <Maildir>/.mailsync-serve.db (DefaultIndexName).
	IndexPath string
	// User and Password are the only credentials LOGIN and AUTHENTICATE
	// PLAIN accept.
	User, Password string
	// ReadOnly refuses every change (flags, APPEND, COPY, MOVE, EXPUNGE,
	// CREATE, DELETE, RENAME) with NO [NOPERM]. SUBSCRIBE still works: it
	// changes only the index, not the archive.
	ReadOnly bool
	// TLSConfig enables TLS: from the first byte with ImplicitTLS, else
	// offered through STARTTLS. nil: no TLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// AllowInsecureAuth allows LOGIN and AUTHENTICATE over a connection
	// without TLS. The caller decides (typically: only on loopback).
	AllowInsecureAuth bool
	// Logf receives errors and security events (a failed login with the
	// client's address, a refused connection), one line per call, from
	// any connection's goroutine; nil is silent. It is the same
	// convention as sync.Options.Logf; the protocol trace goes to
	// DebugWriter.
	Logf func(format string, args ...any)
	// PollInterval is how often an IDLE session rescans its folder for
	// changes made on disk; zero means 2s.
	PollInterval time.Duration
	// LoginFailDelay is how long the first failed LOGIN or
	// AUTHENTICATE from a client address waits before its answer; each
	// further failure in a row doubles it (up to 10 s). Zero means
	// DefaultLoginFailDelay.
	LoginFailDelay time.Duration
	// MaxLoginFailures failures in a row from one address block it for
	// LoginBlockTime: every login from it is then refused, with the
	// right password too. Zero means the defaults.
	MaxLoginFailures int
	LoginBlockTime   time.Duration
	// MaxConns caps the open connections, MaxConnsPerAddr those from one
	// client address; a connection over a cap gets BYE. Zero means the
	// defaults.
	MaxConns, MaxConnsPerAddr int
	// DebugWriter, if set, receives the raw protocol of every connection,
	// passwords included: use it for debugging only.
	DebugWriter io.Writer
}

// logf is Options.Logf with the Printf method go-imap's server logs
// through; the nil logf discards.
type logf func(format string, args ...any)

func (l logf) Printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// Server is an IMAP server over one Maildir. Its methods may be called
// from any goroutine.
type Server struct {
	opts  Options
	md    *maildir.Maildir
	idx   *index
	imap  *imapserver.Server
	log   logf
	auth  *loginGuard
	conns *connCounts

	mu     sync.Mutex
	boxes  map[string]*mailbox
	closed bool
	lns    map[net.Listener]struct{}
}

// indexLockTimeout is how long New waits for the index file lock.
const indexLockTimeout = time.Second

// New opens (creating if needed) the UID index and prepares a server. It
// fails with ErrIndexInUse when another process has the index open.
func New(o Options) (*Server, error) {
	if o.Maildir == "" {
		return nil, errors.New("serve: no Maildir given")
	}
	if o.User == "" {
		return nil, errors.New("serve: no user given")
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.LoginFailDelay <= 0 {
		o.LoginFailDelay = DefaultLoginFailDelay
	}
	if o.MaxLoginFailures <= 0 {
		o.MaxLoginFailures = DefaultMaxLoginFailures
	}
	if o.LoginBlockTime <= 0 {
		o.LoginBlockTime = DefaultLoginBlockTime
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxConnsPerAddr <= 0 {
		o.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	md, err := maildir.OpenLayout(o.Maildir, o.Layout)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if !md.Exists() {
		if md.Layout() == maildir.LayoutFS {
			return nil, fmt.Errorf("serve: maildir %s has no INBOX (it needs INBOX/cur, INBOX/new and INBOX/tmp, or cur/, new/ and tmp/ at the root)", o.Maildir)
		}
		return nil, fmt.Errorf("serve: maildir %s does not exist (it needs cur/, new/ and tmp/)", o.Maildir)
	}
	if o.IndexPath == "" {
		o.IndexPath = filepath.Join(md.Root(), DefaultIndexName)
	}
	idx, err := openIndex(o.IndexPath, indexLockTimeout)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := &Server{
		opts:  o,
		md:    md,
		idx:   idx,
		log:   logf(o.Logf),
		boxes: make(map[string]*mailbox),
		lns:   make(map[net.Listener]struct{}),
		auth:  newLoginGuard(o.LoginFailDelay, o.MaxLoginFailures, o.LoginBlockTime),
		conns: &connCounts{max: o.MaxConns, perAddr: o.MaxConnsPerAddr, byAddr: make(map[string]int)},
	}
	var tlsConf *tls.Config
	if o.TLSConfig != nil && !o.ImplicitTLS {
		tlsConf = o.TLSConfig
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{srv: s, remote: hostOf(c.NetConn().RemoteAddr())}, nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1:                 {},
			imap.CapIMAP4rev2:                 {},
			imap.CapUIDPlus:                   {},
			imap.CapMove:                      {},
			imap.CapNamespace:                 {},
			imap.CapSpecialUse:                {},
			imap.CapLiteralPlus:               {},
			imap.CapChildren:                  {},
			imap.CapListExtended:              {},
			imap.CapListStatus:                {},
			imap.CapStatusSize:                {},
			imap.CapESearch:                   {},
			imap.CapSearchRes:                 {},
			imap.CapBinary:                    {},
			imap.CapID:                        {},
			imap.CapCondStore:                 {},
			imap.CapSort:                      {},
			imap.Cap("THREAD=ORDEREDSUBJECT"): {},
			imap.Cap("THREAD=REFERENCES"):     {},
		},
		ID:           &imap.IDData{Name: "mailsync"},
		Logger:       s.log,
		TLSConfig:    tlsConf,
		InsecureAuth: o.AllowInsecureAuth,
		DebugWriter:  o.DebugWriter,
	})
	return s, nil
}

// Serve accepts connections on ln until the listener fails or Close is
// called; it returns nil after Close (also when Close came first, in
// which case it closes ln at once). With Options.ImplicitTLS the
// connections are TLS from the first byte.
func (s *Server) Serve(ln net.Listener) error {
	ln = &connLimiter{Listener: ln, connCounts: s.conns, log: s.log.Printf}
	if s.opts.TLSConfig != nil && s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.opts.TLSConfig)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	err := s.imap.Serve(ln)
	s.mu.Lock()
	delete(s.lns, ln)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return err
}

// ListenAndServe listens on addr and serves until ctx is done (then it
// closes the server and returns nil) or the listener fails.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-done:
		}
	}()
	return s.Serve(ln)
}

// Close stops the listeners, closes every connection and the index. It
// may be called more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.lns {
		ln.Close() // in case imapserver has not taken it yet
	}
	s.mu.Unlock()
	err := s.imap.Close()
	if err != nil && (errors.Is(err, net.ErrClosed) || err.Error() == "imapserver: server closed") {
		err = nil
	}
	// Connections are closed; sessions release their folders as their
	// goroutines notice. The index stays usable until then, so wait a
	// little for them before closing it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.boxes)
		s.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	if cerr := s.idx.close(); err == nil {
		err = cerr
	}
	s.mu.Unlock()
	return err
}

// checkLogin compares in constant time.
func (s *Server) checkLogin(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.User))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password))
	return u&p == 1
}

// acquire returns the shared state of folder name (canonical), creating
// it; the caller must release it.
func (s *Server) acquire(name string) (*mailbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "server is shutting down"}
	}
	mb := s.boxes[name]
	if mb == nil {
		f, err := s.md.Folder(name)
		if err != nil {
			return nil, err
		}
		mb = newMailbox(s, f)
		s.boxes[name] = mb
	}
	mb.refs++
	return mb, nil
}

func (s *Server) release(mb *mailbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb.refs--
	if mb.refs <= 0 && s.boxes[mb.name] == mb {
		delete(s.boxes, mb.name)
	}
}

// forget marks the shared state of the named folders as gone (deleted or
// renamed): sessions that have one selected see its messages expunged,
// and the next acquire starts afresh.
func (s *Server) forget(names []string) {
	s.mu.Lock()
	var gone []*mailbox
	for _, n := range names {
		if mb := s.boxes[n]; mb != nil {
			delete(s.boxes, n)
			gone = append(gone, mb)
		}
	}
	s.mu.Unlock()
	for _, mb := range gone {
		mb.markGone()
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
