package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/sync"
)

type syncOptions struct {
	allowMassDelete bool
}

func syncCommand(g *globals) *cli.Command {
	var o syncOptions
	return &cli.Command{
		Name:      "sync",
		Usage:     "two-way sync of every folder of the accounts (all when none is named)",
		ArgsUsage: "[ACCOUNT...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-mass-delete", Usage: "propagate deletions even when they take more than half of a folder", Destination: &o.allowMassDelete},
		},
		Action: func(c *cli.Context) error {
			accts, err := g.accounts(c.Args().Slice())
			if err != nil {
				return err
			}
			return runSync(c.Context, g, accts, o)
		},
	}
}

// engineAccount turns a configured account into the engine's, running
// its password command.
func engineAccount(ctx context.Context, g *globals, a *config.Account) (sync.Account, error) {
	io, err := imapOptions(ctx, g, a)
	if err != nil {
		return sync.Account{}, err
	}
	return sync.Account{
		Name:           a.Name,
		IMAP:           io,
		Maildir:        a.Maildir,
		StatePath:      a.State,
		Exclude:        a.Exclude,
		IncludeAllMail: a.IncludeAllMail,
		Connections:    a.Connections,
	}, nil
}

func runSync(ctx context.Context, g *globals, accts []*config.Account, o syncOptions) error {
	var sums []*sync.Summary
	var failed []string
	var firstErr error
	for _, a := range accts {
		acct, err := engineAccount(ctx, g, a)
		if err != nil {
			return err
		}
		sum, err := syncAccount(ctx, g, acct, sync.Options{AllowMassDelete: o.allowMassDelete})
		sums = append(sums, sum)
		if err != nil {
			failed = append(failed, a.Name)
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", a.Name, err)
			}
			if !g.json {
				fmt.Fprintf(g.stderr, "mailsync: %s: %v\n", a.Name, err)
				for _, e := range sum.Errors {
					fmt.Fprintf(g.stderr, "mailsync: %s: %s\n", a.Name, e)
				}
			}
		}
	}
	if g.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": len(failed) == 0, "accounts": sums}); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		if len(failed) == 1 && len(accts) == 1 {
			// Already printed; exit 1 without repeating it.
			return cli.Exit("", exitFailure)
		}
		return fmt.Errorf("%d of %d accounts failed (%v): %w", len(failed), len(accts), failed, firstErr)
	}
	return nil
}

// syncAccount runs one account with the progress bar and summary line.
func syncAccount(ctx context.Context, g *globals, acct sync.Account, opts sync.Options) (*sync.Summary, error) {
	var bar *progressBar
	if g.isTerminal && !g.quiet && !g.json {
		bar = newProgressBar(g.stderr, acct.Name)
		opts.Progress = bar
	}
	opts.Logf = g.logf
	sum, err := sync.Run(ctx, acct, opts)
	if bar != nil {
		bar.Finish()
	}
	if sum == nil {
		sum = &sync.Summary{Account: acct.Name}
	}
	if errors.Is(err, context.Canceled) {
		return sum, err
	}
	if !g.quiet && !g.json {
		for _, w := range sum.Warnings {
			fmt.Fprintf(g.stderr, "mailsync: %s: warning: %s\n", acct.Name, w)
		}
		if g.isTerminal || g.verbose {
			fmt.Fprintln(g.stdout, sum.String())
		}
	}
	return sum, err
}
