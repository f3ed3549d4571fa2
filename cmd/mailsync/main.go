// Command mailsync keeps IMAP accounts and local Maildirs in two-way sync
// and can serve a Maildir over IMAP. This package turns flags and the
// config file into options and calls the packages that do the work; exit
// codes are decided here and only here (exitCode).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/sync"
)

// Exit codes, documented in the app's help (exitHelp) and the README.
const (
	exitOK          = 0
	exitFailure     = 1   // the work failed (or verify found differences)
	exitUsage       = 2   // bad command line or configuration
	exitPartial     = 3   // some folders failed or some changes were held back; the rest synced
	exitInterrupted = 130 // SIGINT or SIGTERM
)

const exitHelp = `EXIT STATUS:
   0    ok (verify: both sides agree)
   1    failure (verify: they differ)
   2    bad command line or configuration
   3    partial: some folders failed or some changes were held back, the rest was synced
   130  interrupted (Ctrl-C, SIGTERM); the state is consistent, run again to finish
`

// exitStatus is an error that only carries an exit status: what went
// wrong has been printed already.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError marks errors that are the user's command line or config.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globals are the options every command shares.
type globals struct {
	configPath string
	quiet      bool
	verbose    bool
	json       bool
	debug      bool // --debug: the protocol trace, redacted, on stderr
	stdout     io.Writer
	stderr     io.Writer
	isTerminal bool

	commandNotFound bool
}

func (g *globals) logf(format string, args ...any) {
	if g.verbose {
		fmt.Fprintf(g.stderr, "mailsync: "+format+"\n", args...)
	}
}

func (g *globals) loadConfig() (*config.Config, error) {
	c, err := config.Load(g.configPath)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// accounts loads the config and returns the named accounts (all when
// names is empty).
func (g *globals) accounts(names []string) ([]*config.Account, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	return cfg.Select(names)
}

func main() {
	// A sync's live heap is small and its garbage is listings made and
	// dropped folder after folder: collecting when the heap has grown by
	// half, not doubled, keeps a run's memory lower for a little more
	// CPU (an initial sync of 85,000 messages: peak RSS 42.5 MB at the
	// default, 36 MB at 50; README "Speed"), and by a tenth while a
	// quick pass holds a folder's listing (sync.ListingGCPercent). GOGC,
	// when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
		sync.ListingGCPercent = 10
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := profile()
	code := runMain(ctx, os.Args, os.Stdout, os.Stderr)
	stopProfile()
	os.Exit(code)
}

// runMain runs the command line args and returns the exit code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		g.isTerminal = term.IsTerminal(int(f.Fd()))
	}
	app := newApp(g)
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil && g.commandNotFound {
		return exitUsage
	}
	code := exitCode(g, err)
	if code != exitOK && ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}

// exitCode prints err (if any) and maps it to the process's exit status.
func exitCode(g *globals, err error) int {
	if err == nil {
		return exitOK
	}
	var es exitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.Error() == "" {
		return ec.ExitCode()
	}
	fmt.Fprintf(g.stderr, "mailsync: %v\n", err)
	var ue usageError
	var ce *config.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &ce):
		return exitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return exitFailure
}

func newApp(g *globals) *cli.App {
	// -v is --verbose: --version has no short form.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and the commit it was built from"}
	app := &cli.App{
		Name:    "mailsync",
		Usage:   "two-way IMAP ↔ Maildir sync, and an IMAP server for the Maildir",
		Version: version(),
		Description: "Every option may be given before or after the command and after the account names.\n" +
			"The configuration is $XDG_CONFIG_HOME/mailsync/config.toml (see the README's Configuration section).\n\n" +
			exitHelp,
		Writer:               g.stdout,
		ErrWriter:            g.stderr,
		EnableBashCompletion: true,
		// --folder "Lists, old" is one folder.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: config.DefaultPath(), DefaultText: "$XDG_CONFIG_HOME/mailsync/config.toml", Usage: "configuration `FILE`", Destination: &g.configPath},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors", Destination: &g.quiet},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print what is done, folder by folder", Destination: &g.verbose},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout", Destination: &g.json},
			&cli.BoolFlag{Name: "debug", Usage: "print the IMAP protocol trace on stderr (passwords and tokens redacted)", Destination: &g.debug},
		},
		Commands: []*cli.Command{
			syncCommand(g),
			serveCommand(g),
			demoCommand(g),
			verifyCommand(g),
			statusCommand(g),
			migrateCommand(g),
			completionCommand(g),
			manCommand(g),
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError{err}
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(g.stderr, "mailsync: no command %q (see mailsync --help)\n", name)
			g.commandNotFound = true
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		switch c.Name {
		case "sync", "verify", "status", "migrate":
			c.BashComplete = completeAccounts(g, func() *cli.Command { return c })
		}
	}
	return app
}
