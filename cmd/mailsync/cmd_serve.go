package main

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/internal/demo"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/serve"
)

type serveOptions struct {
	maildir, listen, user, passwordCommand, account string
	tlsCert, tlsKey                                 string
	implicitTLS, readOnly, allowInsecure            bool
	layout                                          string
}

func serveCommand(g *globals) *cli.Command {
	var o serveOptions
	return &cli.Command{
		Name:  "serve",
		Usage: "publish a Maildir over IMAP so that any mail client can browse it",
		Description: "The password comes from --password-command or the environment variable MAILSYNC_SERVE_PASSWORD.\n" +
			"Every option may also come from the [serve] section of the config file.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "maildir", Usage: "the Maildir `DIR` to serve", Destination: &o.maildir},
			&cli.StringFlag{Name: "account", Usage: "serve this configured account's Maildir", Destination: &o.account},
			&cli.StringFlag{Name: "listen", Usage: "`ADDR`ess to listen on (default 127.0.0.1:1143)", Destination: &o.listen},
			&cli.StringFlag{Name: "user", Usage: "the login `NAME` clients must use", Destination: &o.user},
			&cli.StringFlag{Name: "password-command", Usage: "`CMD` whose output is the password", Destination: &o.passwordCommand},
			&cli.StringFlag{Name: "tls-cert", Usage: "TLS certificate `FILE` (PEM)", Destination: &o.tlsCert},
			&cli.StringFlag{Name: "tls-key", Usage: "TLS key `FILE` (PEM)", Destination: &o.tlsKey},
			&cli.BoolFlag{Name: "implicit-tls", Usage: "TLS from the first byte (IMAPS) instead of STARTTLS", Destination: &o.implicitTLS},
			&cli.BoolFlag{Name: "read-only", Usage: "refuse every change with NO", Destination: &o.readOnly},
			&cli.BoolFlag{Name: "allow-insecure", Usage: "allow a non-loopback address without TLS (passwords in clear text)", Destination: &o.allowInsecure},
			&cli.StringFlag{Name: "layout", Usage: "the Maildir's `LAYOUT`: maildir++ (default) or fs (nested folders, as mbsync and OfflineIMAP write them)", Destination: &o.layout},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("serve takes no arguments (got %q)", c.Args().First())
			}
			// The config file is optional for serve when flags say all.
			if _, err := os.Stat(g.configPath); err == nil || c.IsSet("config") {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				if err := o.fillFromConfig(cfg, c.IsSet("read-only")); err != nil {
					return err
				}
			}
			return runServe(c, g, o)
		},
	}
}

// fillFromConfig takes from the config's [serve] section what the flags
// did not set: flags win, also --read-only=false over read_only = true
// (readOnlySet says whether --read-only was given).
func (o *serveOptions) fillFromConfig(cfg *config.Config, readOnlySet bool) error {
	s := cfg.Serve
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&o.account, s.Account)
	set(&o.maildir, s.Maildir)
	set(&o.listen, s.Listen)
	set(&o.user, s.User)
	set(&o.passwordCommand, s.PasswordCommand)
	set(&o.tlsCert, s.TLSCert)
	set(&o.tlsKey, s.TLSKey)
	set(&o.layout, string(s.Layout))
	if !readOnlySet {
		o.readOnly = s.ReadOnly
	}
	if o.account != "" && o.maildir == "" {
		a, ok := cfg.Accounts[o.account]
		if !ok {
			return usagef("serve: no account %q in %s", o.account, cfg.Path)
		}
		o.maildir = a.Maildir
		set(&o.layout, string(a.Layout))
	}
	return nil
}

func runServe(c *cli.Context, g *globals, o serveOptions) error {
	if o.account != "" && o.maildir == "" {
		return usagef("serve: --account %s needs the config file (%s)", o.account, g.configPath)
	}
	if o.maildir == "" {
		return usagef("serve: say which Maildir to serve: --maildir DIR or --account NAME")
	}
	if o.user == "" {
		return usagef("serve: say which login name clients use: --user NAME")
	}
	layout, err := maildir.ParseLayout(o.layout)
	if err != nil {
		return usagef("serve: --layout: %v", err)
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:1143"
	}
	password := os.Getenv("MAILSYNC_SERVE_PASSWORD")
	if o.passwordCommand != "" {
		pw, err := config.RunPasswordCommand(c.Context, o.passwordCommand)
		if err != nil {
			return usagef("serve: --password-command: %v", err)
		}
		password = pw
	}
	if password == "" {
		return usagef("serve: no password: set --password-command CMD or the environment variable MAILSYNC_SERVE_PASSWORD")
	}
	host, _, err := net.SplitHostPort(o.listen)
	if err != nil {
		return usagef("serve: --listen %q: %v", o.listen, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	var tlsConf *tls.Config
	if o.tlsCert != "" || o.tlsKey != "" {
		if o.tlsCert == "" || o.tlsKey == "" {
			return usagef("serve: --tls-cert and --tls-key go together")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return usagef("serve: TLS certificate %s / key %s: %v", o.tlsCert, o.tlsKey, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else if o.implicitTLS {
		return usagef("serve: --implicit-tls needs --tls-cert and --tls-key")
	}
	if tlsConf == nil && !loopback && !o.allowInsecure {
		return usagef("serve: refusing to listen on %s without TLS: passwords and mail would cross the network in clear text. Give --tls-cert/--tls-key, listen on 127.0.0.1, or pass --allow-insecure", o.listen)
	}
	// Errors and security events (failed logins with the address) are
	// always worth a line on a server's stderr; --quiet keeps them out.
	var logf func(string, ...any)
	if !g.quiet {
		logger := log.New(g.stderr, "mailsync serve: ", log.LstdFlags)
		logf = func(format string, args ...any) { logger.Printf(format, args...) }
	}
	srv, err := serve.New(serve.Options{
		Maildir: o.maildir, Layout: layout, User: o.user, Password: password, ReadOnly: o.readOnly,
		TLSConfig: tlsConf, ImplicitTLS: o.implicitTLS,
		AllowInsecureAuth: tlsConf == nil, Logf: logf, DebugWriter: g.serveTrace(password),
	})
	if err != nil {
		return err
	}
	mode := "read-write"
	if o.readOnly {
		mode = "read-only"
	}
	security := "no TLS"
	if tlsConf != nil {
		security = "STARTTLS"
		if o.implicitTLS {
			security = "implicit TLS"
		}
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "mailsync: serving %s (%s) at %s as %s, %s; Ctrl-C stops\n", o.maildir, mode, o.listen, o.user, security)
	}
	return srv.ListenAndServe(c.Context, o.listen)
}

func demoCommand(g *globals) *cli.Command {
	var o demo.Options
	var noWait bool
	return &cli.Command{
		Name:  "demo",
		Usage: "zero-setup demonstration: a sample archive, served over IMAP and synced both ways",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: demo.DefaultDir(), DefaultText: "/tmp/mailsync-demo-$UID", Usage: "`DIR` for the sample archive, its synced copy and state", Destination: &o.Dir},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:1143", Usage: "`ADDR` to serve on (a free port if taken)", Destination: &o.Listen},
			&cli.BoolFlag{Name: "no-wait", Usage: "exit after the demonstration instead of serving until Ctrl-C", Destination: &noWait},
		},
		Action: func(c *cli.Context) error {
			o.Wait = !noWait
			o.Out = g.stdout
			var bar *progressBar
			if g.isTerminal && !g.quiet {
				bar = newProgressBar(g.stderr, "demo")
				o.Progress = bar
			}
			err := demo.Run(c.Context, o)
			if bar != nil {
				bar.Finish()
			}
			return err
		},
	}
}
