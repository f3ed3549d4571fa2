// Package imapconn is mailsync's IMAP client: one authenticated
// connection to one account, with the few commands the sync engine needs,
// on top of go-imap v2's imapclient.
//
// It owns the wire: dialing (implicit TLS, STARTTLS or plain), logging in
// without ever printing the password, mapping folder names between
// mailsync's canonical form ("/"-separated UTF-8, "INBOX") and the
// server's delimiter, and choosing commands by the capabilities the server
// advertises (UIDPLUS, CONDSTORE). It promises:
//
//   - Only UID commands address messages, and a folder's messages are only
//     expunged when they are exactly the ones asked for (UID EXPUNGE, or,
//     without UIDPLUS, CLOSE and SELECT again only when no other message
//     is \Deleted).
//   - Message bodies come back byte for byte as the server sent them, and
//     fetching never sets \Seen (BODY.PEEK).
//   - Every call takes a context; when it ends, the connection is closed so
//     that the call returns. The Conn is then unusable.
//   - What the server sends is bounded (see listGuard): a response line,
//     a LIST line, a literal (Options.MaxMessageSize) and the plain-text
//     prelude before STARTTLS; exceeding a bound fails the connection with
//     an error saying so. Messages above MaxMessageSize are not fetched.
//   - Every wait on the server is bounded by Options.Timeout (nothing for
//     the call in either direction while it waits; untagged OK/NO/BAD,
//     FLAGS, EXISTS and RECENT lines do not count, so a server chatting
//     them forever stalls like a silent one): the connection is closed
//     and the error names the server and what was being done.
//   - Message bodies are streamed both ways (FetchBodies hands a reader,
//     AppendBatch takes one): no message is held whole.
//   - The password, OAuth2 tokens and their SASL encodings are scrubbed
//     from every error the package returns and from the trace, whatever
//     the server echoes.
//   - Errors say what was being done. ErrAuth marks refused credentials;
//     IsRetryable tells a broken connection (reconnect and resume) from a
//     refusal by the server (NO/BAD) or a fatal setup error. After a
//     connection error every later call returns an error at once: dial a
//     new Conn.
//
// A Conn serves one goroutine at a time (the engine uses one Conn per
// folder worker); its methods lock it for the length of the call, so
// callbacks (FetchBodies' fn, AppendBatch's done) must not call back into
// the same Conn. Close may be called from any goroutine at any time.
package imapconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailsync/mailsync/internal/redact"
	"github.com/mailsync/mailsync/model"
)

// Options configure Dial. The function fields and Secrets are left out
// of JSON (tests hand Options to helper processes that way).
type Options struct {
	Host string
	// Port is 993 for TLS "implicit" and 143 otherwise when zero.
	Port int
	// TLS is "implicit" (TLS from the first byte, the default when
	// empty), "starttls" (plain connection upgraded before login, refused
	// if the server cannot) or "none" (everything in clear text,
	// including the password).
	TLS      string
	User     string
	Password string
	// OAuth2Token, when set, is called for a fresh OAuth2 access token
	// and the login uses OAUTHBEARER (preferred) or XOAUTH2, whichever
	// the server offers, instead of Password. When the server refuses
	// the token, OAuth2Token is called once more and the login retried
	// once before Dial fails with ErrAuth.
	OAuth2Token func(ctx context.Context) (string, error) `json:"-"`
	// InsecureSkipVerify accepts any certificate (the caller warns).
	InsecureSkipVerify bool
	// TLSCAFile is a PEM file of the certificate authorities to trust
	// instead of the system's (e.g. a self-signed server certificate).
	TLSCAFile string
	// TLSFingerprint pins the server's certificate: "sha256:" and the
	// hex SHA-256 of the leaf certificate (DER), colons optional. With a
	// pin, a certificate matching it is accepted whatever its issuer or
	// name, and any other is refused.
	TLSFingerprint string
	// AllowInsecureAuth permits TLS "none" to a host that is not a
	// loopback address; without it Dial refuses to send the password in
	// clear text over the network.
	AllowInsecureAuth bool
	// Secrets receives the password and tokens Dial uses, and scrubs
	// every error the Conn returns and the trace. nil: a private set.
	Secrets *redact.Set `json:"-"`
	// DebugWriter receives the protocol trace, one line per line sent
	// ("C: ") or received ("S: "), with LOGIN and AUTHENTICATE exchanges
	// and every secret redacted. Message bodies are included.
	DebugWriter io.Writer
	// Timeout bounds every wait on the server: a call fails (and the
	// connection is closed) when nothing for it has come or gone for
	// this long while the client waits for an answer (untagged status
	// lines do not count). 60 s when zero.
	Timeout time.Duration
	// DialTimeout bounds the TCP connection, TLS handshake and STARTTLS
	// prelude; Timeout when zero.
	DialTimeout time.Duration
	// MaxMessageSize bounds a message and any literal the server sends
	// (256 MiB when zero). FetchBodies skips larger messages, reporting
	// each to Warnf; a literal announced above it fails the connection.
	MaxMessageSize int64
	// Warnf receives warnings (a message skipped for its size). nil
	// drops them. Called from the goroutine calling the Conn.
	Warnf func(format string, args ...any) `json:"-"`
	// DisableUIDPlus, DisableCondStore and DisableMultiAppend make the
	// Conn behave as if the server did not advertise UIDPLUS, CONDSTORE
	// or MULTIAPPEND.
	DisableUIDPlus, DisableCondStore, DisableMultiAppend bool
}

// ErrAuth is matched (errors.Is) by errors from Dial when the server
// refused the credentials. Retrying with the same credentials is pointless.
var ErrAuth = errors.New("imap: credentials refused")

// ErrValidityChangedByExpunge is matched by Expunge's error when the
// messages were expunged but the server gave the folder a new UIDVALIDITY
// meanwhile (GNU Mailutils imap4d does): the UIDs of the selected folder
// mean nothing any more; the error is retryable.
var ErrValidityChangedByExpunge = errors.New("the server changed the folder's UIDVALIDITY while expunging")

// ErrExpungeDeferred is matched by Expunge's error when, without UIDPLUS,
// the messages could not be expunged without also expunging messages
// another client marked \Deleted. The messages are left marked \Deleted.
var ErrExpungeDeferred = errors.New("expunge deferred")

type authError struct{ msg string }

func (e *authError) Error() string        { return e.msg }
func (e *authError) Is(target error) bool { return target == ErrAuth }

// connError is a failure of the connection itself (network error, server
// hung up, unparsable response, context ended): the Conn is unusable.
type connError struct {
	op        string
	err       error
	retryable bool
}

func (e *connError) Error() string { return e.op + ": " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// IsRetryable reports whether err comes from a broken, closed or timed-out
// connection, so that dialing again and resuming makes sense. Refused
// credentials, refusals of a command by the server (NO, BAD), certificate
// errors and a cancelled context are not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrAuth) || errors.Is(err, context.Canceled) {
		return false
	}
	var ce *connError
	if errors.As(err, &ce) {
		return ce.retryable
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// classifyNetErr tells whether a dial or I/O error is worth retrying.
func classifyNetErr(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certInv   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recErr    tls.RecordHeaderError
		setupErr  *fatalSetupError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &certInv) ||
		errors.As(err, &verifyErr) || errors.As(err, &recErr) || errors.As(err, &setupErr) {
		return false
	}
	return true
}

// Caps are the capabilities that change what the Conn sends
// (model.Caps).
type Caps = model.Caps

// Conn is one logged-in IMAP connection. See the package comment for its
// concurrency rules.
type Conn struct {
	opts   Options
	addr   string
	raw    net.Conn   // the transport; closing it unblocks everything
	guard  *listGuard // what go-imap reads from: raw, minus unusable LIST names
	client *imapclient.Client
	tr     *tracer
	wd     *watchdog
	sec    *redact.Set
	caps   Caps
	rawCap imap.CapSet

	mu       sync.Mutex
	broken   error  // set once the connection failed
	names    naming // how the server spells folder names, loaded once
	selected string // server name of the selected folder, "" if none
	// permanent is the selected folder's PERMANENTFLAGS (nil: none sent).
	permanent []imap.Flag
	// validity is the UIDVALIDITY of the folder Select selected last.
	validity uint32
	// fresh: the last command was the SELECT of the selected folder, so
	// the session's view is as new as a NOOP would make it (refresh);
	// wasFresh: it was when the running command began.
	fresh, wasFresh bool
	// selCount is the number of messages the last SELECT reported.
	selCount uint32

	closeOnce sync.Once
	onChange  atomic.Pointer[func()] // set while Idle runs (idle.go)
}

// Dial connects, reads the greeting, upgrades with STARTTLS when asked,
// and logs in (AUTHENTICATE PLAIN when offered, LOGIN otherwise). Refused
// credentials give an error matching ErrAuth; the password never appears
// in errors or in the trace.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.TLS == "" {
		o.TLS = "implicit"
	}
	if o.Port == 0 {
		o.Port = 143
		if o.TLS == "implicit" {
			o.Port = 993
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = o.Timeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxLiteral
	}
	if o.Secrets == nil {
		o.Secrets = &redact.Set{}
	}
	o.Secrets.Add(o.Password)
	if o.Password != "" {
		// The SASL PLAIN response, as a server might echo it.
		o.Secrets.Add("\x00" + o.User + "\x00" + o.Password)
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	switch o.TLS {
	case "implicit", "starttls", "none":
	default:
		return nil, fmt.Errorf("imap %s: tls mode %q: want implicit, starttls or none", addr, o.TLS)
	}
	if o.TLS == "none" && !o.AllowInsecureAuth && !isLoopback(o.Host) {
		return nil, &fatalSetupError{fmt.Sprintf("imap %s: tls = \"none\" would send the password in clear text over the network: use tls = \"implicit\" or \"starttls\", or set allow_insecure_auth = true if the network is trusted", addr)}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}

	c := &Conn{opts: o, addr: addr, sec: o.Secrets}
	if o.DebugWriter != nil {
		c.tr = &tracer{w: o.DebugWriter, sec: o.Secrets}
	}
	c, err := c.dial(ctx)
	return c, o.Secrets.Err(err)
}

func (c *Conn) dial(ctx context.Context) (*Conn, error) {
	o, addr := c.opts, c.addr

	dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	raw, err := c.connect(dctx)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &connError{op: "connect to " + addr, err: explainTLS(err), retryable: classifyNetErr(err)}
	}
	c.raw = raw
	c.wd = newWatchdog(o.Timeout, addr, func() { raw.Close() })
	c.guard = &listGuard{Conn: raw, maxLiteral: o.MaxMessageSize, wd: c.wd}
	c.client = imapclient.New(c.guard, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Unsolicited FETCH (flag changes by other clients) are
			// not needed: listings are fetched when wanted.
			Fetch: func(msg *imapclient.FetchMessageData) {
				for msg.Next() != nil {
				}
				c.changed()
			},
			// EXISTS and EXPUNGE matter only to Idle (idle.go).
			Expunge: func(uint32) { c.changed() },
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					c.changed()
				}
			},
		},
	})

	// From here on, an ending ctx closes the connection.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	defer c.wd.disarm()
	fail := func(op string, err error) (*Conn, error) {
		c.wd.stop()
		c.client.Close()
		if ctx.Err() != nil {
			return nil, &connError{op: op, err: ctx.Err()}
		}
		if st := c.wd.takeStall(); st != nil {
			return nil, &connError{op: op, err: st, retryable: true}
		}
		if le := c.guard.failure(); le != nil {
			return nil, &connError{op: op, err: le}
		}
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		return nil, &connError{op: op, err: err, retryable: true}
	}

	c.wd.arm("waiting for the greeting")
	if err := c.client.WaitGreeting(); err != nil {
		return fail("greeting from "+addr, err)
	}
	c.wd.arm("logging in")
	if err := c.login(ctx); err != nil {
		var ae *authError
		if errors.As(err, &ae) {
			c.wd.stop()
			c.client.Close()
			return nil, err
		}
		return fail(fmt.Sprintf("login as %s at %s", o.User, addr), err)
	}
	caps := c.client.Caps()
	if caps == nil {
		return fail("capabilities of "+addr, errors.New("no capability list"))
	}
	c.rawCap = caps
	c.caps = Caps{
		UIDPlus:     caps.Has(imap.CapUIDPlus) && !o.DisableUIDPlus,
		CondStore:   caps.Has(imap.CapCondStore) && !o.DisableCondStore,
		Move:        caps.Has(imap.CapMove),
		SpecialUse:  caps.Has(imap.CapSpecialUse),
		LiteralPlus: caps.Has(imap.CapLiteralPlus),
		MultiAppend: caps.Has(imap.CapMultiAppend) && !o.DisableMultiAppend,
	}
	if ctx.Err() != nil {
		return fail("connect to "+addr, ctx.Err())
	}
	return c, nil
}

// connect opens the transport: TCP, then TLS as asked. With STARTTLS the
// plain-text prelude (greeting, STARTTLS) is done here and go-imap is
// handed the TLS connection with a stand-in greeting, so that the trace
// sees clear text on both sides of the upgrade.
func (c *Conn) connect(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	tcp, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if c.opts.TLS != "none" {
		if tlsConf, err = c.tlsConfig(); err != nil {
			tcp.Close()
			return nil, err
		}
	}
	switch c.opts.TLS {
	case "none":
		return c.traced(tcp), nil
	case "implicit":
		tc := tls.Client(tcp, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			tcp.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		return c.traced(tc), nil
	}
	// STARTTLS.
	stop := context.AfterFunc(ctx, func() { tcp.Close() })
	defer stop()
	if err := c.startTLSPrelude(c.traced(tcp)); err != nil {
		tcp.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	tc := tls.Client(tcp, tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		tcp.Close()
		return nil, fmt.Errorf("tls handshake after STARTTLS: %w", err)
	}
	return &greetingConn{Conn: c.traced(tc), r: io.MultiReader(strings.NewReader("* OK [mailsync] TLS established\r\n"), c.traced(tc))}, nil
}

// startTLSPrelude reads the greeting and sends STARTTLS.
func (c *Conn) startTLSPrelude(conn net.Conn) error {
	lr := &io.LimitedReader{R: conn, N: maxPrelude}
	br := bufio.NewReaderSize(lr, 4096)
	line, err := readLine(br, lr)
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") {
		// PREAUTH would mean talking in clear text (RFC 9051 7.1.4).
		return &fatalSetupError{fmt.Sprintf("greeting %q: want OK before STARTTLS", strings.TrimSpace(line))}
	}
	if _, err := io.WriteString(conn, "S0 STARTTLS\r\n"); err != nil {
		return err
	}
	for {
		line, err = readLine(br, lr)
		if err != nil {
			return fmt.Errorf("read STARTTLS answer: %w", err)
		}
		if strings.HasPrefix(line, "S0 ") {
			break
		}
	}
	if !strings.HasPrefix(strings.ToUpper(line), "S0 OK") {
		return &fatalSetupError{fmt.Sprintf("server refused STARTTLS: %s", strings.TrimSpace(line[3:]))}
	}
	if br.Buffered() > 0 {
		return &fatalSetupError{"server sent data after STARTTLS OK (possible injection)"}
	}
	return nil
}

// maxPrelude bounds what the server may send before TLS is up
// (greeting, untagged lines, the STARTTLS answer), and maxPreludeLine
// one line of it.
const (
	maxPrelude     = 64 << 10
	maxPreludeLine = 4 << 10
)

// readLine reads one line of the plain-text prelude, refusing a line
// longer than maxPreludeLine and a prelude longer than maxPrelude.
func readLine(br *bufio.Reader, lr *io.LimitedReader) (string, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxPreludeLine {
			return "", &fatalSetupError{fmt.Sprintf("server sent a line longer than %d bytes before TLS was established", maxPreludeLine)}
		}
		switch {
		case err == nil:
			return string(line), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if lr.N <= 0 {
				return "", &fatalSetupError{fmt.Sprintf("server sent more than %d bytes before TLS was established", maxPrelude)}
			}
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// fatalSetupError is a setup failure retrying will not fix.
type fatalSetupError struct{ msg string }

func (e *fatalSetupError) Error() string { return e.msg }

type greetingConn struct {
	net.Conn
	r io.Reader
}

func (g *greetingConn) Read(b []byte) (int, error) { return g.r.Read(b) }

func (c *Conn) traced(conn net.Conn) net.Conn {
	if c.tr == nil {
		return conn
	}
	return &traceConn{Conn: conn, t: c.tr}
}

func (c *Conn) login(ctx context.Context) error {
	if c.opts.OAuth2Token != nil {
		return c.loginOAuth2(ctx)
	}
	o := c.opts
	caps := c.client.Caps()
	var err error
	switch {
	case caps.Has(imap.Cap("AUTH=PLAIN")):
		err = c.client.Authenticate(sasl.NewPlainClient("", o.User, o.Password))
	case caps.Has(imap.CapLoginDisabled):
		return &authError{fmt.Sprintf("login as %s at %s: server allows no login over this connection (LOGINDISABLED): use TLS", o.User, c.addr)}
	default:
		err = c.client.Login(o.User, o.Password).Wait()
	}
	return c.authResult(err)
}

// authResult turns a NO to LOGIN/AUTHENTICATE into an authError, with
// every secret scrubbed from the server's text.
func (c *Conn) authResult(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		text := ie.Text
		if ie.Code != "" {
			text = "[" + string(ie.Code) + "] " + text
		}
		return &authError{c.sec.String(fmt.Sprintf("login as %s at %s refused: %s", c.opts.User, c.addr, text))}
	}
	return err
}

// Caps returns the capabilities in effect (after Options.Disable*).
func (c *Conn) Caps() Caps { return c.caps }

// HasCap reports whether the server advertised capability name.
func (c *Conn) HasCap(name string) bool { return c.rawCap.Has(imap.Cap(name)) }

// Close logs out (best effort, briefly) and closes the connection. It may
// be called from any goroutine, also while another call is running, which
// then fails with a connection error. A nil *Conn (what a failed Dial
// returns, possibly stored in an interface) closes as a no-op.
func (c *Conn) Close() error {
	if c == nil {
		return nil
	}
	c.closeOnce.Do(func() {
		c.wd.stop()
		if c.mu.TryLock() {
			if c.broken == nil {
				done := make(chan struct{})
				go func() {
					c.client.Logout().Wait()
					close(done)
				}()
				select {
				case <-done:
				case <-time.After(2 * time.Second):
				}
				c.broken = &connError{op: "use of closed connection", err: net.ErrClosed}
			}
			c.mu.Unlock()
		}
		c.raw.Close()
		c.client.Close()
	})
	return nil
}

// begin locks c for one call and arranges for ctx to close the
// connection. The returned end function unlocks and turns err into what
// the caller returns: a connection failure marks c broken.
func (c *Conn) begin(ctx context.Context, op string) (end func(err *error), err error) {
	if c == nil {
		// A failed Dial's result: fail like a closed connection.
		return nil, &connError{op: op, err: net.ErrClosed, retryable: true}
	}
	c.mu.Lock()
	if c.broken != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", op, c.broken)
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	// Every command but a SELECT ages the view (Select sets fresh again).
	c.wasFresh, c.fresh = c.fresh, false
	what := op
	if c.selected != "" {
		what = fmt.Sprintf("%s in %q", op, c.selected)
	}
	c.wd.arm(what)
	return func(errp *error) {
		defer c.mu.Unlock()
		c.wd.disarm()
		defer func() { *errp = c.sec.Err(*errp) }()
		fired := !stop()
		if fired {
			// The connection was closed under the command.
			c.broken = &connError{op: "connection closed by cancelled context", err: net.ErrClosed, retryable: true}
			if *errp == nil {
				*errp = fmt.Errorf("%s: %w", op, ctx.Err())
			} else {
				*errp = fmt.Errorf("%s: %w", op, &connError{op: "context ended", err: ctx.Err()})
			}
			return
		}
		if st := c.wd.takeStall(); st != nil {
			e := &connError{op: op, err: st, retryable: true}
			c.broken = e
			*errp = e
			return
		}
		if le := c.guard.failure(); le != nil {
			e := &connError{op: op, err: le}
			c.broken = e
			*errp = e
			return
		}
		if *errp != nil {
			*errp = c.classify(op, *errp)
		}
	}, nil
}

// beginSelected is begin for a command on the selected folder. With
// refresh, a NOOP first brings in what other clients changed, unless
// the folder was selected by the command before: the SELECT's answer is
// as new, and the command then sees the messages the SELECT counted
// (one round trip less per folder synced).
func (c *Conn) beginSelected(ctx context.Context, op string, refresh bool) (end func(err *error), err error) {
	end, err = c.begin(ctx, op)
	if err != nil {
		return nil, err
	}
	if err = c.needSelected(); err == nil && refresh && !c.wasFresh {
		err = c.refresh()
	}
	if err != nil {
		end(&err)
		return nil, err
	}
	return end, nil
}

// cmdErr marks an error as a server refusal or a local decision, which
// classify passes through.
type cmdErr struct{ err error }

func (e *cmdErr) Error() string { return e.err.Error() }
func (e *cmdErr) Unwrap() error { return e.err }

// classify wraps err with op. A tagged NO/BAD (*imap.Error) or an error
// already marked local (cmdErr) leaves the connection usable; anything
// else from go-imap means the connection is gone.
func (c *Conn) classify(op string, err error) error {
	var ce *cmdErr
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, ce.err)
	}
	var conn *connError
	if errors.As(err, &conn) {
		c.broken = conn
		c.raw.Close()
		return fmt.Errorf("%s: %w", op, err)
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type != imap.StatusResponseTypeBye {
		select {
		case <-c.client.Closed():
			// go-imap closes the connection when a refusal
			// interrupts a literal: keep the refusal, but the Conn
			// is done.
			c.broken = &connError{op: op, err: net.ErrClosed, retryable: true}
		default:
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &connError{op: op, err: err, retryable: true}
	c.broken = e
	c.raw.Close()
	return e
}
