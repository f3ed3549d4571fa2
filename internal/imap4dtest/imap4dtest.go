// Package imap4dtest starts GNU Mailutils' imap4d (Debian
// mailutils-imap4d) on a free loopback port for tests: a second real
// server beside Dovecot, and a good adversary. It lacks UIDPLUS and
// CONDSTORE, keeps only the system flags (PERMANENTFLAGS has no \*),
// and reassigns UIDVALIDITY more readily than Dovecot does.
//
// imap4d runs in inetd mode: the test's listener accepts each connection
// and starts one imap4d for it with the socket as its standard input and
// output, so no daemon, pid file or syslog is involved. The user logs in
// as User with Password (a virtdomain passwd file); mail lives in a
// Maildir tree under Dir/home.
//
// When imap4d cannot start (not installed), the test is skipped with the
// reason, or fails when CI=true: in CI a missing server is a failure.
package imap4dtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Server is a running imap4d listener.
type Server struct {
	Host string // "127.0.0.1"
	Port int
	Addr string // Host:Port

	// User and Password log in over IMAP.
	User, Password string
	// Separator is the hierarchy delimiter imap4d uses.
	Separator string
	// Dir holds the configuration, the passwd file and the mail (Dir/home).
	Dir string

	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	cmds map[*exec.Cmd]struct{}
	log  bytes.Buffer
}

// Bin is imap4d's path, or "" when it is not installed.
func Bin() string {
	if p, err := exec.LookPath("imap4d"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/imap4d"); err == nil {
		return "/usr/sbin/imap4d"
	}
	return ""
}

func unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("imap4dtest: imap4d unavailable (CI=true makes this a failure): %s", reason)
	}
	t.Skipf("imap4dtest: imap4d unavailable, skipping (set CI=true to fail instead): %s", reason)
}

// Start starts imap4d for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Bin()
	if bin == "" {
		unavailable(t, "imap4d not found (install mailutils-imap4d)")
	}
	dir := t.TempDir()
	s := &Server{
		Host:      "127.0.0.1",
		User:      "me@example.org",
		Password:  "s3cret",
		Separator: "/",
		Dir:       dir,
		cmds:      map[*exec.Cmd]struct{}{},
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{"pw", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := exec.Command("openssl", "passwd", "-6", s.Password).Output()
	if err != nil {
		unavailable(t, fmt.Sprintf("openssl passwd -6 (install openssl): %v", err))
	}
	for _, d := range []string{"cur", "new", "tmp"} { // INBOX exists from the start, as on any server
		if err := os.MkdirAll(filepath.Join(home, "INBOX", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	uid, gid := os.Getuid(), os.Getgid()
	passwd := fmt.Sprintf("me:%s:%d:%d::%s:/bin/sh\n", bytes.TrimSpace(hash), uid, gid, home)
	if err := os.WriteFile(filepath.Join(dir, "pw", "example.org"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "imap4d.conf")
	confText := fmt.Sprintf(`auth { authentication generic; authorization virtdomain; };
virtdomain { passwd-dir %q; };
logging { syslog false; };
mailbox { mailbox-type maildir; mailbox-pattern "maildir://%s/INBOX"; };
namespace personal { prefix "" { directory %q; delimiter "/"; mailbox-type maildir; }; };
`, filepath.Join(dir, "pw"), home, home)
	if err := os.WriteFile(conf, []byte(confText), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config-lint", "--config-file="+conf).CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("imap4d --config-lint: %v: %s", err, out))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	s.wg.Add(1)
	go s.serve(bin, conf)
	t.Cleanup(s.stop)

	// The first login proves the configuration works.
	c, err := s.dial()
	if err != nil {
		unavailable(t, fmt.Sprintf("imap4d does not accept the test login: %v\n%s", err, s.LogTail()))
	}
	c.Logout().Wait()
	c.Close()
	return s
}

func (s *Server) serve(bin, conf string) {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		f, err := conn.(*net.TCPConn).File()
		conn.Close()
		if err != nil {
			continue
		}
		cmd := exec.Command(bin, "--inetd", "--config-file="+conf)
		cmd.Stdin, cmd.Stdout = f, f
		cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.log}
		s.mu.Lock()
		err = cmd.Start()
		if err == nil {
			s.cmds[cmd] = struct{}{}
		}
		s.mu.Unlock()
		f.Close()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			cmd.Wait()
			s.mu.Lock()
			delete(s.cmds, cmd)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) stop() {
	s.ln.Close()
	s.KickConnections()
	s.wg.Wait()
}

// KickConnections ends every open session, as a server restart would.
func (s *Server) KickConnections() {
	s.mu.Lock()
	for cmd := range s.cmds {
		cmd.Process.Kill()
	}
	s.mu.Unlock()
}

// LogTail is what the imap4d processes wrote to stderr.
func (s *Server) LogTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(s.log.String()), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) dial() (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Client returns a logged-in go-imap client acting as another mail
// client on the server; the caller closes it.
func (s *Server) Client(t testing.TB) *imapclient.Client {
	t.Helper()
	var c *imapclient.Client
	var err error
	for i := 0; i < 3; i++ { // imap4d starts per connection: retry a slow start
		if c, err = s.dial(); err == nil {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("imap4dtest: login to %s: %v\n%s", s.Addr, err, s.LogTail())
	return nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
