package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync"
	"github.com/mailsync/mailsync/sync/watch"
)

// lockWait is how long a one-shot sync waits for the state file while
// another mailsync (a watcher's pass, another sync) holds it.
const lockWait = 30 * time.Second

// runLockWaiting is sync.Run, retried every second for up to lockWait
// while the account's state file is in use by another mailsync: a
// watcher holds it only during a pass, so a cron sync of the same
// account runs right after it.
func runLockWaiting(ctx context.Context, acct sync.Account, opts sync.Options) (*sync.Summary, error) {
	deadline := time.Now().Add(lockWait)
	for {
		sum, err := sync.Run(ctx, acct, opts)
		if !errors.Is(err, statedb.ErrLocked) || time.Now().After(deadline) {
			return sum, err
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return sum, err
		}
	}
}

// runWatch is `mailsync sync --watch`: one watcher per account until
// SIGINT or SIGTERM (ctx), which end it with status 0. SIGHUP reloads
// the config and restarts the watchers; a config that no longer loads
// is reported and the running watchers are kept. A watcher stops on its
// own only for refused credentials or a missing Maildir; the command
// fails when every watcher has stopped.
func runWatch(ctx context.Context, g *globals, names []string, accts []*config.Account, o syncOptions) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var outMu gosync.Mutex
	for {
		wctx, cancel := context.WithCancel(ctx)
		type result struct {
			name string
			err  error
		}
		done := make(chan result, len(accts))
		running := 0
		for _, a := range accts {
			acct, err := engineAccount(wctx, g, a)
			if err != nil {
				cancel()
				for ; running > 0; running-- {
					<-done
				}
				return err
			}
			if len(o.folders) > 0 {
				acct.Folders, _ = folderpat.New(o.folders, nil)
			}
			wo := watchOptions(g, &outMu, a, acct, o)
			running++
			go func() { done <- result{a.Name, watch.Run(wctx, wo)} }()
		}
		g.logf("watching %d account(s); SIGHUP reloads the config", running)
	wait:
		for {
			select {
			case <-ctx.Done():
				cancel()
				for ; running > 0; running-- {
					<-done
				}
				return nil
			case <-hup:
				next, err := g.accounts(names)
				if err != nil {
					outMu.Lock()
					fmt.Fprintf(g.stderr, "mailsync: reload: %v; the watchers keep the old configuration\n", err)
					outMu.Unlock()
					continue
				}
				cancel()
				for ; running > 0; running-- {
					<-done
				}
				accts = next
				g.logf("config reloaded")
				break wait
			case r := <-done:
				running--
				outMu.Lock()
				fmt.Fprintf(g.stderr, "mailsync: %s: watch stopped: %v\n", r.name, r.err)
				outMu.Unlock()
				if running == 0 {
					cancel()
					return exitStatus(exitFailure)
				}
			}
		}
		cancel()
	}
}

// watchOptions prints, per pass, the summary line when something changed
// (and with -v every pass), and every error once on stderr.
func watchOptions(g *globals, mu *gosync.Mutex, a *config.Account, acct sync.Account, o syncOptions) watch.Options {
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(g.stderr, "mailsync: %s: "+format+"\n", append([]any{a.Name}, args...)...)
	}
	return watch.Options{
		Account: acct,
		Sync: sync.Options{
			AllowMassDelete: o.allowMassDelete,
			Policy:          o.engineOptions(a).Policy,
			Retries:         o.engineOptions(a).Retries,
			Logf: func(format string, args ...any) {
				if strings.HasPrefix(format, "error: ") || strings.HasPrefix(format, "warning: ") {
					return // from the summary, once
				}
				g.logf(format, args...)
			},
		},
		IdleFolders:  a.Watch.Folders,
		MaxIdle:      a.Watch.MaxIdle,
		PollInterval: a.Watch.PollInterval,
		FullInterval: a.Watch.FullInterval,
		Logf: func(format string, args ...any) {
			if strings.HasPrefix(format, "error: ") || strings.HasPrefix(format, "warning: ") {
				if !g.quiet {
					say(format, args...)
				}
				return
			}
			g.logf(format, args...)
		},
		PassDone: func(folders []string, sum *sync.Summary, err error) {
			if sum == nil {
				return
			}
			for _, e := range sum.Errors {
				say("%s", e)
			}
			if !g.quiet {
				for _, w := range sum.Warnings {
					say("warning: %s", w)
				}
			}
			if !g.quiet && (sum.Changed() || g.verbose) {
				mu.Lock()
				fmt.Fprintln(g.stdout, time.Now().Format("15:04:05"), sum.String())
				mu.Unlock()
			}
		},
	}
}
