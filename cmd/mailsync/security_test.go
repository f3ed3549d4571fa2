package main

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// TestDebugTrace: --debug prints the protocol trace on stderr, without
// the password; tls_skip_verify warns.
func TestDebugTrace(t *testing.T) {
	srv := dovecottest.Start(t, &dovecottest.Options{TLS: true})
	srv.Save(t, "INBOX", []byte("Subject: dbg\nMessage-ID: <dbg@t>\n\nbody\n"))
	dir := t.TempDir()
	t.Setenv("TEST_PW", srv.Password)
	cfg := writeConfig(t, fmt.Sprintf("[accounts.t]\nhost = %q\nport = %d\ntls = \"implicit\"\ntls_skip_verify = true\nuser = %q\npassword_env = \"TEST_PW\"\nmaildir = %q\nstate = %q\n",
		srv.Host, srv.TLSPort, srv.User, filepath.Join(dir, "Mail"), filepath.Join(dir, "t.db")))
	code, _, stderr := run(t, "--config", cfg, "--debug", "sync")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, srv.Password) {
		t.Errorf("stderr holds the password:\n%s", stderr)
	}
	for _, want := range []string{"AUTHENTICATE PLAIN <redacted>", "S: * LIST", "C: ", "warning: tls_skip_verify"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Without --debug: no trace, but the warning again.
	_, _, stderr = run(t, "--config", cfg, "sync")
	if strings.Contains(stderr, "C: ") || !strings.Contains(stderr, "warning: tls_skip_verify") {
		t.Errorf("without --debug: %q", stderr)
	}
}

// TestSyncStallEnds: a server that never answers SELECT makes sync fail
// on its own with an error naming the server and the folder, and the
// next run is not locked out.
func TestSyncStallEnds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit); l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go stallAtSelect(conn, quit)
		}
	}()
	dir := t.TempDir()
	t.Setenv("TEST_PW", "pw")
	cfg := writeConfig(t, fmt.Sprintf("[accounts.t]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\ntimeout = \"1s\"\nuser = \"u\"\npassword_env = \"TEST_PW\"\nmaildir = %q\nstate = %q\n",
		l.Addr().(*net.TCPAddr).Port, filepath.Join(dir, "Mail"), filepath.Join(dir, "t.db")))
	for i := 0; i < 2; i++ {
		start := time.Now()
		code, _, stderr := run(t, "--config", cfg, "sync")
		t.Logf("run %d: exit %d after %s: %s", i, code, time.Since(start).Round(time.Millisecond), stderr)
		if code != exitFailure || !strings.Contains(stderr, "sent nothing for 1s") || !strings.Contains(stderr, "INBOX") || strings.Contains(stderr, "in use") {
			t.Errorf("run %d: exit %d, stderr %q", i, code, stderr)
		}
	}
}

func stallAtSelect(conn net.Conn, quit <-chan struct{}) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprintf(conn, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] stalling server\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		tag, cmd := f[0], strings.ToUpper(f[1])
		switch cmd {
		case "AUTHENTICATE", "LOGIN":
			fmt.Fprintf(conn, "%s OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n", tag)
		case "CAPABILITY":
			fmt.Fprintf(conn, "* CAPABILITY IMAP4rev1 UIDPLUS\r\n%s OK done\r\n", tag)
		case "LIST":
			fmt.Fprintf(conn, "* LIST () \"/\" INBOX\r\n%s OK done\r\n", tag)
		case "SELECT", "EXAMINE":
			<-quit
			return
		case "LOGOUT":
			fmt.Fprintf(conn, "* BYE\r\n%s OK bye\r\n", tag)
			return
		default:
			fmt.Fprintf(conn, "%s OK done\r\n", tag)
		}
	}
}
