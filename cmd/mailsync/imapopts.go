package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/redact"
)

// imapOptions turns an account's connection keys into imapconn's options:
// it runs the password command (or arranges for the OAuth2 token command
// to run at each login), warns about tls_skip_verify (on every run), and
// with --debug sends the redacted protocol trace to stderr.
func imapOptions(ctx context.Context, g *globals, a *config.Account) (imapconn.Options, error) {
	o := imapconn.Options{Host: a.Host, Port: a.Port, TLS: a.TLS, User: a.User,
		InsecureSkipVerify: a.TLSSkipVerify, TLSCAFile: a.TLSCAFile, TLSFingerprint: a.TLSFingerprint,
		AllowInsecureAuth: a.AllowInsecureAuth, Timeout: a.Timeout, MaxMessageSize: a.MaxMessageSize,
		Secrets: &redact.Set{}}
	if a.OAuth2TokenCommand != "" {
		o.OAuth2Token = a.OAuth2Token
	} else {
		pw, err := a.Password(ctx)
		if err != nil {
			return o, err
		}
		o.Password = pw
	}
	o.Secrets.Add(o.Password)
	name := a.Name
	o.Warnf = func(format string, args ...any) {
		if !g.quiet {
			fmt.Fprintf(g.stderr, "mailsync: %s: warning: %s\n", name, o.Secrets.String(fmt.Sprintf(format, args...)))
		}
	}
	if a.TLSSkipVerify && a.TLSFingerprint == "" {
		o.Warnf("tls_skip_verify = true: the server's certificate is not checked, so anyone on the network path can read the password and mail; set tls_ca_file or tls_fingerprint instead")
	}
	if g.debug {
		o.DebugWriter = g.traceWriter(o.Secrets)
	}
	return o, nil
}

// traceWriter is where --debug sends a protocol trace: stderr, with sec's
// secrets scrubbed (the writer holds partial lines, so a secret split
// across writes is still caught).
func (g *globals) traceWriter(sec *redact.Set) io.Writer {
	return sec.Writer(g.stderr)
}

// serveTrace is serve's protocol trace for --debug (nil without it):
// stderr, with LOGIN/AUTHENTICATE arguments and the password redacted.
func (g *globals) serveTrace(password string) io.Writer {
	if !g.debug {
		return nil
	}
	sec := &redact.Set{}
	sec.Add(password)
	return sec.IMAPWriter(g.stderr)
}
