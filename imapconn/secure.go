package imapconn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

// ParseFingerprint parses a certificate pin, "sha256:" followed by 64 hex
// digits (upper or lower case, colons between bytes optional), into the
// 32-byte SHA-256.
func ParseFingerprint(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	if !ok {
		return nil, fmt.Errorf("%q: want \"sha256:\" followed by the certificate's SHA-256 in hex", s)
	}
	sum, err := hex.DecodeString(strings.ReplaceAll(rest, ":", ""))
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%q: want \"sha256:\" followed by 64 hex digits (colons optional)", s)
	}
	return sum, nil
}

// Fingerprint formats a certificate's pin as ParseFingerprint reads it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tlsConfig builds the client's TLS configuration from the options:
// TLS 1.2 at least, the CA file or the pin when given.
func (c *Conn) tlsConfig() (*tls.Config, error) {
	o := c.opts
	conf := &tls.Config{
		ServerName:         o.Host,
		InsecureSkipVerify: o.InsecureSkipVerify,
		NextProtos:         []string{"imap"},
		MinVersion:         tls.VersionTLS12,
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, &fatalSetupError{fmt.Sprintf("tls_ca_file: %v", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &fatalSetupError{fmt.Sprintf("tls_ca_file %s: no PEM certificate in it", o.TLSCAFile)}
		}
		conf.RootCAs = pool
	}
	if o.TLSFingerprint != "" {
		want, err := ParseFingerprint(o.TLSFingerprint)
		if err != nil {
			return nil, &fatalSetupError{"tls_fingerprint " + err.Error()}
		}
		// The pin replaces the chain and name checks (as mbsync's and
		// OfflineIMAP's fingerprints do).
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &fatalSetupError{"server presented no certificate"}
			}
			leaf := cs.PeerCertificates[0]
			got := sha256.Sum256(leaf.Raw)
			if !bytes.Equal(got[:], want) {
				return &fatalSetupError{fmt.Sprintf("server certificate %s does not match tls_fingerprint %s: if the server's certificate was renewed, check the new one and update the pin", Fingerprint(leaf), o.TLSFingerprint)}
			}
			return nil
		}
	}
	return conf, nil
}

// explainTLS adds what to do to a TLS failure.
func explainTLS(err error) error {
	var (
		recErr    tls.RecordHeaderError
		verifyErr *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
	)
	switch {
	case errors.As(err, &recErr):
		if bytes.HasPrefix(recErr.RecordHeader[:], []byte("* ")) {
			return fmt.Errorf("%w: this port speaks plain IMAP: set tls = \"starttls\" (or use the server's implicit-TLS port, usually 993)", err)
		}
		return fmt.Errorf("%w: the server does not speak TLS on this port: check port and tls", err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("%w: the certificate is for another name: connect with a host name it covers, or pin it with tls_fingerprint", err)
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr):
		hint := "the server's certificate is not signed by an authority this system trusts: set tls_ca_file to the certificate (PEM) of its authority, or pin the certificate with tls_fingerprint"
		if verifyErr != nil && len(verifyErr.UnverifiedCertificates) > 0 {
			hint += fmt.Sprintf(" (it presented %s; check that value out of band before pinning it)", Fingerprint(verifyErr.UnverifiedCertificates[0]))
		}
		return fmt.Errorf("%w: %s", err, hint)
	}
	return err
}

// isLoopback reports whether host is "localhost" or a loopback address,
// where a clear-text login does not cross a network.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loginOAuth2 authenticates with a token from Options.OAuth2Token:
// OAUTHBEARER when offered, else XOAUTH2. A refused token is fetched
// once more and tried once more.
func (c *Conn) loginOAuth2(ctx context.Context) error {
	o := c.opts
	caps := c.client.Caps()
	mech := ""
	switch {
	case caps.Has(imap.Cap("AUTH=OAUTHBEARER")):
		mech = "OAUTHBEARER"
	case caps.Has(imap.Cap("AUTH=XOAUTH2")):
		mech = "XOAUTH2"
	default:
		return &authError{fmt.Sprintf("login as %s at %s: the server offers neither OAUTHBEARER nor XOAUTH2: remove oauth2_token_command and use a password", o.User, c.addr)}
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var token string
		token, err = o.OAuth2Token(ctx)
		if err != nil {
			return &authError{c.sec.String(fmt.Sprintf("login as %s at %s: oauth2_token_command: %v", o.User, c.addr, err))}
		}
		c.sec.Add(token, "Bearer "+token)
		var cl sasl.Client
		if mech == "OAUTHBEARER" {
			cl = oauthBearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: o.User, Token: token})}
			c.sec.Add("n,a=" + o.User + ",\x01auth=Bearer " + token + "\x01\x01")
		} else {
			cl = &xoauth2Client{user: o.User, token: token}
			c.sec.Add("user=" + o.User + "\x01auth=Bearer " + token + "\x01\x01")
		}
		err = c.authResult(c.client.Authenticate(cl))
		var ae *authError
		if err == nil || !errors.As(err, &ae) {
			return err
		}
	}
	return &authError{fmt.Sprintf("%v (after running oauth2_token_command twice: check that it prints a fresh access token for %s with the IMAP scope)", err, o.User)}
}

// xoauth2Client is the client side of Google's and Microsoft's XOAUTH2
// SASL mechanism: one initial response; on failure the server sends a
// JSON error as a challenge, answered with an empty response.
type xoauth2Client struct {
	user, token string
}

func (x *xoauth2Client) Start() (mech string, ir []byte, err error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	// The challenge is the server's JSON error. Any answer makes the
	// server finish with NO, which authResult reports; go-imap cannot
	// send an empty line, so send what OAUTHBEARER sends.
	return []byte{0x01}, nil
}

// oauthBearerClient is go-sasl's OAUTHBEARER client, except that it
// answers the server's error challenge with the dummy response RFC 7628
// 3.2.3 asks for (go-sasl's returns an error instead, which would leave
// the AUTHENTICATE command unfinished), so that the server ends the
// exchange with NO.
type oauthBearerClient struct{ sasl.Client }

func (oauthBearerClient) Next(challenge []byte) ([]byte, error) { return []byte{0x01}, nil }
