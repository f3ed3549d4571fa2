package imapconn_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// TestTLSOptions: Dovecot over implicit TLS with its self-signed
// certificate is refused by default (with advice), accepted with
// tls_ca_file, accepted with the right pin, refused with a wrong one.
func TestTLSOptions(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, &dovecottest.Options{TLS: true})
	ctx := context.Background()
	base := opts(s)
	base.TLS, base.Port = "implicit", s.TLSPort

	_, err := imapconn.Dial(ctx, base)
	if err == nil || imapconn.IsRetryable(err) || !strings.Contains(err.Error(), "tls_ca_file") || !strings.Contains(err.Error(), "tls_fingerprint") {
		t.Errorf("default: err = %v, want a refusal pointing at tls_ca_file/tls_fingerprint", err)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, s.CACert, 0o600); err != nil {
		t.Fatal(err)
	}
	o := base
	o.TLSCAFile = caFile
	c, err := imapconn.Dial(ctx, o)
	if err != nil {
		t.Errorf("tls_ca_file: %v", err)
	} else {
		c.Close()
	}

	block, _ := pem.Decode(s.CACert)
	sum := sha256.Sum256(block.Bytes)
	hexSum := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(hexSum); i += 2 {
		colons = append(colons, strings.ToUpper(hexSum[i:i+2]))
	}
	for _, pin := range []string{"sha256:" + hexSum, "SHA256:" + strings.Join(colons, ":")} {
		o := base
		o.TLSFingerprint = pin
		c, err := imapconn.Dial(ctx, o)
		if err != nil {
			t.Errorf("pin %s: %v", pin, err)
		} else {
			c.Close()
		}
	}

	wrong := sha256.Sum256([]byte("another certificate"))
	o = base
	o.TLSFingerprint = "sha256:" + hex.EncodeToString(wrong[:])
	_, err = imapconn.Dial(ctx, o)
	if err == nil || imapconn.IsRetryable(err) || !strings.Contains(err.Error(), "does not match tls_fingerprint") || !strings.Contains(err.Error(), hexSum) {
		t.Errorf("wrong pin: err = %v", err)
	}
	// A wrong pin is refused even with a trusted CA file.
	o.TLSCAFile = caFile
	if _, err = imapconn.Dial(ctx, o); err == nil {
		t.Error("wrong pin with a CA file: accepted")
	}

	// Implicit TLS to the plain-IMAP port says what to do.
	o = base
	o.Port = s.Port
	o.TLSCAFile = caFile
	_, err = imapconn.Dial(ctx, o)
	if err == nil || !strings.Contains(err.Error(), `this port speaks plain IMAP: set tls = "starttls"`) {
		t.Errorf("implicit TLS to the plain port: err = %v", err)
	}

	// STARTTLS with the CA file works too.
	o = opts(s)
	o.TLS = "starttls"
	o.TLSCAFile = caFile
	if c, err := imapconn.Dial(ctx, o); err != nil {
		t.Errorf("starttls with tls_ca_file: %v", err)
	} else {
		c.Close()
	}
}

// TestInsecureAuthRefused: tls "none" to a host that is not loopback is
// refused before anything is sent (the context is already cancelled, so
// without the check Dial would fail on that instead, and no packet leaves
// the machine either way).
func TestInsecureAuthRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := imapconn.Options{Host: "imap.example.invalid", TLS: "none", User: "u", Password: "p"}
	_, err := imapconn.Dial(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "allow_insecure_auth") || imapconn.IsRetryable(err) {
		t.Errorf("err = %v, want a refusal naming allow_insecure_auth", err)
	}
	o.AllowInsecureAuth = true
	if _, err := imapconn.Dial(ctx, o); err == nil || strings.Contains(err.Error(), "allow_insecure_auth") {
		t.Errorf("allowed: err = %v, want the cancelled context", err)
	}
}

// TestMaxMessageSizeSkips: a message above MaxMessageSize is never
// fetched; it is reported through Warnf and the others come through.
func TestMaxMessageSizeSkips(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	s.Save(t, "INBOX", msg("small", "hello\r\n"))
	s.Save(t, "INBOX", msg("big", strings.Repeat("0123456789abcdef\r\n", 400)))
	var warnings []string
	o := opts(s)
	o.MaxMessageSize = 4096
	o.Warnf = func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	c := dial(t, o)
	selectF(t, c, "INBOX")
	var got []string
	err := c.FetchBodies(context.Background(), []model.UID{1, 2}, func(m imapconn.Message) error {
		b, err := io.ReadAll(m.Body)
		got = append(got, fmt.Sprintf("%d:%d", m.UID, len(b)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "1:") {
		t.Errorf("fetched %v, want only uid 1", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "uid 2") || !strings.Contains(warnings[0], "max_message_size") {
		t.Errorf("warnings = %q", warnings)
	}
}

// TestSlowCallbackIsNotAStall: time spent in FetchBodies' callback (the
// client writing to disk) does not count against Options.Timeout.
func TestSlowCallbackIsNotAStall(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	s.Save(t, "INBOX", msg("one", "1\r\n"))
	s.Save(t, "INBOX", msg("two", "2\r\n"))
	o := opts(s)
	o.Timeout = 300 * time.Millisecond
	c := dial(t, o)
	selectF(t, c, "INBOX")
	n := 0
	err := c.FetchBodies(context.Background(), []model.UID{1, 2}, func(imapconn.Message) error {
		n++
		time.Sleep(600 * time.Millisecond)
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("fetched %d, err = %v", n, err)
	}
}
