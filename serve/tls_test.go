package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func TestTLS(t *testing.T) {
	conf, pool := selfSigned(t)
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	t.Run("implicit", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.TLSConfig, o.ImplicitTLS, o.AllowInsecureAuth = conf, true, false })
		c, err := imapclient.DialTLS(e.addr, &imapclient.Options{TLSConfig: clientTLS})
		must(t, err)
		defer c.Close()
		must(t, c.Login(testUser, testPass).Wait())
		_, err = c.Select("INBOX", nil).Wait()
		must(t, err)
	})
	t.Run("starttls", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.TLSConfig, o.AllowInsecureAuth = conf, false })
		plain, err := imapclient.DialInsecure(e.addr, nil)
		must(t, err)
		defer plain.Close()
		if err := plain.Login(testUser, testPass).Wait(); err == nil {
			t.Error("LOGIN without STARTTLS accepted")
		}
		c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: clientTLS})
		must(t, err)
		defer c.Close()
		must(t, c.Login(testUser, testPass).Wait())
	})
}

// TestNothingLeftBehind: clients that disconnect (cleanly, mid-IDLE or
// abruptly) leave no folder state and no goroutines.
func TestNothingLeftBehind(t *testing.T) {
	e := newEnv(t, nil)
	e.deliver("INBOX", plainMsg, 0, time.Time{})
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		c := e.dial(nil)
		_, err := c.Select("INBOX", nil).Wait()
		must(t, err)
		switch i % 3 {
		case 0:
			must(t, c.Logout().Wait())
		case 1:
			if _, err := c.Idle(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			c.Close()
		case 2:
			c.Close()
		}
	}
	waitFor(t, "folder state to be released", 5*time.Second, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.boxes) == 0
	})
	waitFor(t, "goroutines to end", 5*time.Second, func() bool {
		return runtime.NumGoroutine() <= before+1
	})
}

func TestListenAndServeContext(t *testing.T) {
	e := newEnv(t, nil)
	e.stop()
	srv, err := New(e.opts)
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, addr) }()
	var c *imapclient.Client
	waitFor(t, "server to listen", 5*time.Second, func() bool {
		c, err = imapclient.DialInsecure(addr, nil)
		return err == nil
	})
	must(t, c.Login(testUser, testPass).Wait())
	_, err = c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	must(t, err)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return")
	}
	// The index is closed: a new server can open it.
	srv2, err := New(e.opts)
	must(t, err)
	srv2.Close()
}
