// Package dovecottest starts a real Dovecot IMAP server on a free loopback
// port for tests, and gives tests a way to look at and change the
// server's mail behind the client's back (through doveadm), the way
// another mail client would.
//
// It owns everything the server needs: a system user to run mail
// processes as, a directory under os.TempDir() holding the configuration,
// the runtime sockets, the log and the Maildir++ mail store, and the
// dovecot process itself. Start registers a cleanup that stops the server
// and removes the directory, so every test gets its own server and tests
// may run in parallel.
//
// Dovecot needs root to start (it refuses to run mail processes as root,
// so it switches to a dedicated user). When it cannot start, the test is
// skipped with the reason, or fails when the environment variable CI is
// "true": in CI a missing server is a failure, not a skip.
package dovecottest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// MailUser is the system user Dovecot's mail processes run as. Start
// creates it (useradd --system) when it does not exist.
const MailUser = "mailsynctest"

// Server is a running Dovecot. Its methods fail the test on error.
type Server struct {
	Host string // "127.0.0.1"
	Port int
	Addr string // Host:Port

	// User and Password log in over IMAP; User is also the doveadm user.
	User, Password string

	Conf string // path of dovecot.conf, for `doveadm -c Conf`
	Dir  string // base directory holding config, runtime, log and mail
	Log  string // path of the log file

	// Separator is the hierarchy delimiter the server uses.
	Separator string
	// NamespacePrefix is the personal namespace's prefix ("" by default;
	// see Options.NamespacePrefix). The helpers taking folder names add
	// it and Mailboxes strips it.
	NamespacePrefix string

	// With Options.TLS: the implicit-TLS port and the PEM certificate
	// the server presents (self-signed, valid for 127.0.0.1).
	TLSPort int
	CACert  []byte

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Options change how the server is configured. A nil *Options is the
// zero value: every capability advertised, "/" as separator.
type Options struct {
	// NoCondStore advertises a capability list without CONDSTORE and
	// QRESYNC. (Dovecot still implements them; a client that looks at
	// the capabilities will not use them.)
	NoCondStore bool
	// NoUIDPlus advertises a capability list without UIDPLUS. (Dovecot
	// still sends APPENDUID and accepts UID EXPUNGE.)
	NoUIDPlus bool
	// Separator is the hierarchy delimiter: "/" when empty.
	Separator string
	// NoNamespace advertises a capability list without NAMESPACE.
	NoNamespace bool
	// NamespacePrefix, when set, is the prefix of the personal (inbox)
	// namespace, as Courier and Debian's Cyrus have it: "INBOX." with
	// Separator ".". Folders other than INBOX exist only under it.
	NamespacePrefix string
	// MaxConnections, when set, is mail_max_userip_connections: how many
	// IMAP connections one user may have open at once (Dovecot answers a
	// login beyond it with NO).
	MaxConnections int
	// TLS turns on STARTTLS on Port and an implicit-TLS listener on
	// TLSPort, with a fresh self-signed certificate for "127.0.0.1"
	// (Server.CACert).
	TLS bool
	// OAuth2IntrospectionURL, when set, adds an oauth2 passdb (after the
	// password file) that checks tokens by POSTing them to this URL
	// (introspection_mode = post); the endpoint answers
	// {"active": true, "username": USER} for a good token. The
	// mechanisms offered are OAuth2Mechanisms (default "xoauth2
	// oauthbearer") besides PLAIN and LOGIN.
	OAuth2IntrospectionURL string
	OAuth2Mechanisms       string
	// SpecialUse, when not nil, replaces the default special-use folders
	// (Sent, Trash, Drafts, Junk): folder name ("/"-separated) → RFC
	// 6154 attribute, e.g. {"Sent Items": `\Sent`}. The folders are
	// not created.
	SpecialUse map[string]string
	// Prefix is the personal namespace's prefix, e.g. "INBOX." as on
	// Courier, with folder names given to the helpers carrying it
	// (SpecialUse names do not). NamespacePrefix sets the same server
	// up with the helpers adding the prefix; it wins when both are set.
	Prefix string
}

// Capabilities Dovecot 2.3 advertises after login; used to build the
// imap_capability override when options remove some.
var postLoginCaps = []string{
	"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE",
	"SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=REFS",
	"THREAD=ORDEREDSUBJECT", "MULTIAPPEND", "URL-PARTIAL", "CATENATE",
	"UNSELECT", "CHILDREN", "NAMESPACE", "UIDPLUS", "LIST-EXTENDED",
	"I18NLEVEL=1", "CONDSTORE", "QRESYNC", "ESEARCH", "ESORT", "SEARCHRES",
	"WITHIN", "CONTEXT=SEARCH", "LIST-STATUS", "BINARY", "MOVE",
	"SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "STATUS=SIZE", "SAVEDATE",
	"LITERAL+", "NOTIFY", "SPECIAL-USE",
}

// RequireCI skips the test when Dovecot cannot run here (no dovecot or
// doveadm binary, not root), or fails it when CI=true. Start calls it;
// tests may call it first to skip cheaply.
func RequireCI(t testing.TB) {
	t.Helper()
	if reason := prerequisites(); reason != "" {
		unavailable(t, reason)
	}
}

func prerequisites() string {
	for _, bin := range []string{"dovecot", "doveadm"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + bin); err2 != nil {
				return fmt.Sprintf("%s not found in PATH (install dovecot-imapd)", bin)
			}
		}
	}
	if os.Geteuid() != 0 {
		return "dovecot needs root to start its mail processes as another user"
	}
	return ""
}

// unavailable skips t, or fails it when CI=true.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("dovecottest: dovecot unavailable (CI=true makes this a failure): %s", reason)
	}
	t.Skipf("dovecottest: dovecot unavailable, skipping (set CI=true to fail instead): %s", reason)
}

func binPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

var userOnce sync.Mutex

// ensureUser creates MailUser when missing and returns its uid and gid.
// Several test binaries may race to create it: a failing useradd is
// fine when the user exists afterwards.
func ensureUser() (uid, gid int, err error) {
	userOnce.Lock()
	defer userOnce.Unlock()
	u, err := user.Lookup(MailUser)
	if err != nil {
		out, uerr := exec.Command("useradd", "--system", "--no-create-home",
			"--user-group", "--shell", "/usr/sbin/nologin", MailUser).CombinedOutput()
		u, err = user.Lookup(MailUser)
		if err != nil {
			return 0, 0, fmt.Errorf("create user %s: %v: %s", MailUser, uerr, bytes.TrimSpace(out))
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// Start starts a Dovecot for the test and stops it when the test ends.
// When Dovecot cannot start, the test is skipped (or fails with CI=true)
// with the reason and the end of Dovecot's log.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	RequireCI(t)
	if opts == nil {
		opts = &Options{}
	}
	sep := opts.Separator
	if sep == "" {
		sep = "/"
	}
	uid, gid, err := ensureUser()
	if err != nil {
		unavailable(t, err.Error())
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := start(uid, gid, sep, opts)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	unavailable(t, lastErr.Error())
	return nil
}

var errPortInUse = errors.New("port in use")

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(uid, gid int, sep string, opts *Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "dovecottest-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tlsPort := 0
	if opts.TLS {
		if tlsPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &Server{
		Host:      "127.0.0.1",
		Port:      port,
		Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		User:      "me@example.org",
		Password:  "s3cret pass",
		Conf:      filepath.Join(dir, "dovecot.conf"),
		Dir:       dir,
		Log:       filepath.Join(dir, "dovecot.log"),
		Separator: sep,
		TLSPort:   tlsPort,

		NamespacePrefix: opts.NamespacePrefix,
	}
	if opts.TLS {
		cert, key, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.CACert = cert
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), cert, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "key.pem"), key, 0o600); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"run", "state", "mail", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"mail", "home"} {
		if err := os.Chown(filepath.Join(dir, d), uid, gid); err != nil {
			return nil, err
		}
	}
	passwd := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/home/%s\n", s.User, s.Password, uid, gid, dir, s.User)
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd), 0o644); err != nil {
		return nil, err
	}
	if opts.OAuth2IntrospectionURL != "" {
		conf := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\nactive_attribute = active\nactive_value = true\nforce_introspection = yes\n", opts.OAuth2IntrospectionURL)
		if err := os.WriteFile(filepath.Join(dir, "oauth2.conf.ext"), []byte(conf), 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(s.Conf, []byte(s.config(uid, gid, opts)), 0o644); err != nil {
		return nil, err
	}

	if out, err := s.run(); err != nil {
		logTail := s.logTail(20)
		msg := fmt.Sprintf("dovecot -c %s: %v\noutput: %s\nlog:\n%s", s.Conf, err, bytes.TrimSpace(out.Bytes()), logTail)
		if strings.Contains(logTail, "Address already in use") || strings.Contains(out.String(), "Address already in use") {
			return nil, fmt.Errorf("%w: %s", errPortInUse, msg)
		}
		return nil, errors.New(msg)
	}
	ok = true
	return s, nil
}

func (s *Server) config(uid, gid int, opts *Options) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# written by mailsync internal/dovecottest")
	p("base_dir = %s/run", s.Dir)
	p("state_dir = %s/state", s.Dir)
	p("instance_name = dovecottest-%d", s.Port)
	p("log_path = %s", s.Log)
	p("info_log_path = %s", s.Log)
	p("debug_log_path = %s", s.Log)
	p("listen = 127.0.0.1")
	p("protocols = imap")
	if s.TLSPort != 0 {
		p("ssl = yes")
		p("ssl_cert = <%s/cert.pem", s.Dir)
		p("ssl_key = <%s/key.pem", s.Dir)
	} else {
		p("ssl = no")
	}
	p("disable_plaintext_auth = no")
	if opts.OAuth2IntrospectionURL != "" {
		mechs := opts.OAuth2Mechanisms
		if mechs == "" {
			mechs = "xoauth2 oauthbearer"
		}
		p("auth_mechanisms = plain login %s", mechs)
	} else {
		p("auth_mechanisms = plain login")
	}
	p("default_login_user = dovenull")
	p("default_internal_user = dovecot")
	p("mail_uid = %d", uid)
	p("mail_gid = %d", gid)
	p("first_valid_uid = %d", uid)
	p("last_valid_uid = %d", uid)
	p("first_valid_gid = %d", gid)
	p("last_valid_gid = %d", gid)
	p("mail_location = maildir:%s/mail/%%u", s.Dir)
	p("mail_plugins =")
	p("mail_fsync = never")
	p("mailbox_list_index = no")
	p("login_trusted_networks =")
	p("auth_failure_delay = 0")
	p("shutdown_clients = yes")
	p("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s/passwd\n}", s.Dir)
	if opts.OAuth2IntrospectionURL != "" {
		p("passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s/oauth2.conf.ext\n}", s.Dir)
	}
	p("userdb {\n  driver = passwd-file\n  args = username_format=%%u %s/passwd\n}", s.Dir)
	p("service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }\n  inet_listener imaps {\n    address = 127.0.0.1\n    port = %d\n    ssl = yes\n  }\n  chroot =\n}", s.Port, s.TLSPort)
	prefix := s.NamespacePrefix
	if prefix == "" {
		prefix = opts.Prefix
	}
	p("namespace inbox {\n  separator = %s\n  prefix = %s\n  inbox = yes", s.Separator, prefix)
	uses := [][2]string{{"Sent", `\Sent`}, {"Trash", `\Trash`}, {"Drafts", `\Drafts`}, {"Junk", `\Junk`}}
	if opts.SpecialUse != nil {
		uses = nil
		for name, use := range opts.SpecialUse {
			uses = append(uses, [2]string{strconv.Quote(s.serverName(name)), use})
		}
	}
	for _, m := range uses {
		p("  mailbox %s {\n    special_use = %s\n  }", m[0], m[1])
	}
	p("}")
	if opts.MaxConnections > 0 {
		p("protocol imap {\n  mail_max_userip_connections = %d\n}", opts.MaxConnections)
	}
	if opts.NoCondStore || opts.NoUIDPlus || opts.NoNamespace {
		var caps []string
		for _, c := range postLoginCaps {
			if opts.NoCondStore && (c == "CONDSTORE" || c == "QRESYNC") {
				continue
			}
			if opts.NoUIDPlus && c == "UIDPLUS" {
				continue
			}
			if opts.NoNamespace && c == "NAMESPACE" {
				continue
			}
			caps = append(caps, c)
		}
		p("imap_capability = %s", strings.Join(caps, " "))
	}
	return b.String()
}

// waitReady waits until the port greets with "* OK".
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("dovecot exited: %v", s.cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 256)
			n, rerr := c.Read(buf)
			c.Close()
			if n >= 4 && string(buf[:4]) == "* OK" {
				return nil
			}
			lastErr = fmt.Errorf("unexpected greeting %q (%v)", buf[:n], rerr)
		} else {
			lastErr = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not greeting on %s after %v: %v", s.Addr, timeout, lastErr)
}

// run starts the dovecot process on s's configuration and waits until it
// greets; on error the process is stopped again.
func (s *Server) run() (*bytes.Buffer, error) {
	cmd := exec.Command(binPath("dovecot"), "-F", "-c", s.Conf)
	cmd.Dir = s.Dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Dovecot's mail processes inherit the output pipe and may outlive
	// the master by many seconds: do not wait for them to close it.
	cmd.WaitDelay = time.Second
	setSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return &out, fmt.Errorf("start dovecot: %v", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	done := s.done
	go func() {
		cmd.Wait()
		close(done)
	}()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.kill()
		return &out, err
	}
	return &out, nil
}

// Restart stops the server, waits down (clients see their connections
// closed and new ones refused), then starts it again on the same port
// with the same mail, as an administrator's restart does.
func (s *Server) Restart(t testing.TB, down time.Duration) {
	t.Helper()
	s.kill()
	time.Sleep(down)
	var err error
	for attempt := 0; attempt < 20; attempt++ { // the port may linger a moment
		var out *bytes.Buffer
		if out, err = s.run(); err == nil {
			return
		}
		err = fmt.Errorf("%v\noutput: %s", err, bytes.TrimSpace(out.Bytes()))
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("dovecottest: restart: %v\nlog:\n%s", err, s.logTail(20))
}

func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *Server) stop(t testing.TB) {
	s.kill()
	if t.Failed() || os.Getenv("DOVECOTTEST_KEEP") != "" {
		t.Logf("dovecottest: end of %s:\n%s", s.Log, s.logTail(30))
	}
	if os.Getenv("DOVECOTTEST_KEEP") != "" {
		t.Logf("dovecottest: keeping %s", s.Dir)
		return
	}
	os.RemoveAll(s.Dir)
}

func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string { return s.logTail(n) }

// Doveadm runs `doveadm -c Conf args...` and returns its standard output;
// it fails the test when doveadm fails. Mail commands need "-u", s.User
// after the subcommand: the helpers below add it.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.doveadm(nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *Server) doveadm(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(binPath("doveadm"), append([]string{"-c", s.Conf}, args...)...)
	cmd.Dir = s.Dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("doveadm %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// mailCmd runs a doveadm mail command (one taking -u) for s.User.
func (s *Server) mailCmd(t testing.TB, stdin []byte, sub []string, args ...string) string {
	t.Helper()
	full := append(append(append([]string{}, sub...), "-u", s.User), args...)
	out, err := s.doveadm(stdin, full...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serverName maps a "/"-separated folder name to the server's separator.
func (s *Server) serverName(folder string) string {
	if s.Separator != "/" {
		folder = strings.ReplaceAll(folder, "/", s.Separator)
	}
	if folder != "INBOX" {
		folder = s.NamespacePrefix + folder
	}
	return folder
}

// Save stores msg as is in folder ("/"-separated), creating the folder
// when needed, as a delivery would.
func (s *Server) Save(t testing.TB, folder string, msg []byte) {
	t.Helper()
	if !s.hasMailbox(t, folder) {
		s.CreateMailbox(t, folder)
	}
	s.mailCmd(t, msg, []string{"save"}, "-m", s.serverName(folder))
}

func (s *Server) hasMailbox(t testing.TB, folder string) bool {
	t.Helper()
	for _, m := range s.Mailboxes(t) {
		if m == folder {
			return true
		}
	}
	return false
}

// CreateMailbox creates folder ("/"-separated) and its parents.
func (s *Server) CreateMailbox(t testing.TB, name string) {
	t.Helper()
	s.mailCmd(t, nil, []string{"mailbox", "create"}, s.serverName(name))
}

// DeleteMailbox deletes folder and the messages in it.
func (s *Server) DeleteMailbox(t testing.TB, name string) {
	t.Helper()
	s.mailCmd(t, nil, []string{"mailbox", "delete"}, "-s", s.serverName(name))
}

// RenameMailbox renames folder from to to.
func (s *Server) RenameMailbox(t testing.TB, from, to string) {
	t.Helper()
	s.mailCmd(t, nil, []string{"mailbox", "rename"}, s.serverName(from), s.serverName(to))
}

// Mailboxes lists every folder, "/"-separated, sorted.
func (s *Server) Mailboxes(t testing.TB) []string {
	t.Helper()
	out := s.mailCmd(t, nil, []string{"mailbox", "list"})
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			continue
		}
		if l != "INBOX" {
			l = strings.TrimPrefix(l, s.NamespacePrefix)
		}
		if s.Separator != "/" {
			l = strings.ReplaceAll(l, s.Separator, "/")
		}
		names = append(names, l)
	}
	sort.Strings(names)
	return names
}

// UIDValidity returns folder's UIDVALIDITY.
func (s *Server) UIDValidity(t testing.TB, folder string) uint32 {
	t.Helper()
	v := s.status(t, folder, "uidvalidity")
	return uint32(v)
}

// UIDNext returns folder's UIDNEXT.
func (s *Server) UIDNext(t testing.TB, folder string) uint32 {
	t.Helper()
	return uint32(s.status(t, folder, "uidnext"))
}

// HighestModSeq returns folder's HIGHESTMODSEQ.
func (s *Server) HighestModSeq(t testing.TB, folder string) uint64 {
	t.Helper()
	return s.status(t, folder, "highestmodseq")
}

func (s *Server) status(t testing.TB, folder, field string) uint64 {
	t.Helper()
	out := s.mailCmd(t, nil, []string{"-f", "tab", "mailbox", "status"}, field, s.serverName(folder))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("doveadm mailbox status %s %s: unexpected output %q", field, folder, out)
	}
	// The tab formatter prints "mailbox<TAB>value" under a header line.
	fields := strings.Split(lines[1], "\t")
	v, err := strconv.ParseUint(strings.TrimSpace(fields[len(fields)-1]), 10, 64)
	if err != nil {
		t.Fatalf("doveadm mailbox status %s %s: %v", field, folder, err)
	}
	return v
}

func (s *Server) flags(t testing.TB, op, folder string, uid uint32, flags []string) {
	t.Helper()
	// doveadm takes the flags as one space-separated argument.
	args := []string{strings.Join(flags, " "), "mailbox", s.serverName(folder), "uid", strconv.FormatUint(uint64(uid), 10)}
	s.mailCmd(t, nil, []string{"flags", op}, args...)
}

// SetFlags replaces the flags of message uid in folder.
func (s *Server) SetFlags(t testing.TB, folder string, uid uint32, flags ...string) {
	t.Helper()
	if len(flags) == 0 {
		s.flags(t, "remove", folder, uid, []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, `$Forwarded`})
		return
	}
	s.flags(t, "replace", folder, uid, flags)
}

// AddFlags adds flags to message uid in folder.
func (s *Server) AddFlags(t testing.TB, folder string, uid uint32, flags ...string) {
	t.Helper()
	s.flags(t, "add", folder, uid, flags)
}

// RemoveFlags removes flags from message uid in folder.
func (s *Server) RemoveFlags(t testing.TB, folder string, uid uint32, flags ...string) {
	t.Helper()
	s.flags(t, "remove", folder, uid, flags)
}

// Expunge removes message uid from folder.
func (s *Server) Expunge(t testing.TB, folder string, uid uint32) {
	t.Helper()
	s.mailCmd(t, nil, []string{"expunge"}, "mailbox", s.serverName(folder), "uid", strconv.FormatUint(uint64(uid), 10))
}

// KickConnections disconnects every IMAP client of s.User.
func (s *Server) KickConnections(t testing.TB) {
	t.Helper()
	s.Doveadm(t, "kick", s.User)
}

// Msg is one message as an IMAP client sees it.
type Msg struct {
	UID   uint32
	Flags []string // sorted, as the server spells them, e.g. `\Seen`; no \Recent
	// Body is the message as BODY.PEEK[] returns it: CRLF line endings
	// (Dovecot adds the CR to a message stored with LF only), every
	// other byte exactly as stored.
	Body         []byte
	InternalDate time.Time
}

// Messages returns every message of folder, by UID, read over IMAP with
// EXAMINE and BODY.PEEK[] so that nothing changes (no \Seen, no \Recent).
func (s *Server) Messages(t testing.TB, folder string) []Msg {
	t.Helper()
	c := s.Client(t)
	defer c.Close()
	sel, err := c.Select(s.serverName(folder), &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("dovecottest: examine %q: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	bufs, err := c.Fetch(set, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatalf("dovecottest: fetch %q: %v", folder, err)
	}
	var msgs []Msg
	for _, b := range bufs {
		m := Msg{UID: uint32(b.UID), InternalDate: b.InternalDate}
		for _, f := range b.Flags {
			if f == `\Recent` {
				continue // a session flag, different for every client
			}
			m.Flags = append(m.Flags, string(f))
		}
		sort.Strings(m.Flags)
		for _, sec := range b.BodySection {
			m.Body = sec.Bytes
		}
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs
}

// Client returns a logged-in go-imap client for peeking at the server;
// the caller closes it.
func (s *Server) Client(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatalf("dovecottest: dial %s: %v", s.Addr, err)
	}
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		c.Close()
		t.Fatalf("dovecottest: login: %v", err)
	}
	return c
}
