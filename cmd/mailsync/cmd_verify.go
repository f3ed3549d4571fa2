package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync"
)

func verifyCommand(g *globals) *cli.Command {
	var quick bool
	return &cli.Command{
		Name:      "verify",
		Usage:     "compare server and Maildir without changing either (exit 1 when they differ)",
		ArgsUsage: "[ACCOUNT...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "compare sizes and flags only, not contents", Destination: &quick},
		},
		Action: func(c *cli.Context) error {
			accts, err := g.accounts(c.Args().Slice())
			if err != nil {
				return err
			}
			var reports []*sync.Report
			differ := false
			for _, a := range accts {
				acct, err := engineAccount(c.Context, a)
				if err != nil {
					return err
				}
				rep, err := sync.Verify(c.Context, acct, sync.VerifyOptions{Quick: quick})
				if err != nil {
					return fmt.Errorf("verify %s: %w", a.Name, err)
				}
				reports = append(reports, rep)
				if len(rep.Differences) > 0 {
					differ = true
				}
				if !g.json {
					for _, d := range rep.Differences {
						fmt.Fprintf(g.stdout, "%s: %s\n", a.Name, d)
					}
					if !g.quiet {
						verdict := "server and Maildir agree"
						if len(rep.Differences) > 0 {
							verdict = fmt.Sprintf("%d differences", len(rep.Differences))
						}
						fmt.Fprintf(g.stdout, "%s: %d folders, %d messages checked: %s\n", a.Name, rep.Folders, rep.Checked, verdict)
					}
				}
			}
			if g.json {
				if err := json.NewEncoder(g.stdout).Encode(map[string]any{"ok": !differ, "accounts": reports}); err != nil {
					return err
				}
			}
			if differ {
				return cli.Exit("", exitFailure)
			}
			return nil
		},
	}
}

func statusCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show what the state remembers of each account (no network)",
		ArgsUsage: "[ACCOUNT...]",
		Action: func(c *cli.Context) error {
			accts, err := g.accounts(c.Args().Slice())
			if err != nil {
				return err
			}
			type folderStatus struct {
				Folder      string `json:"folder"`
				UIDValidity uint32 `json:"uidvalidity"`
				UIDNext     uint32 `json:"uidnext"`
				Messages    int    `json:"messages"`
				Pending     int    `json:"pending_uploads"`
			}
			out := map[string][]folderStatus{}
			for _, a := range accts {
				if _, err := os.Stat(a.State); errors.Is(err, os.ErrNotExist) {
					if !g.json {
						fmt.Fprintf(g.stdout, "%s: never synced (no state at %s)\n", a.Name, a.State)
					}
					continue
				}
				db, err := statedb.Open(a.State)
				if err != nil {
					return err
				}
				names, err := db.Folders()
				if err == nil {
					for _, n := range names {
						st, lerr := db.Load(n)
						if lerr != nil {
							err = lerr
							break
						}
						out[a.Name] = append(out[a.Name], folderStatus{n, st.UIDValidity, uint32(st.UIDNext), len(st.Pairs), len(st.Intents)})
					}
				}
				db.Close()
				if err != nil {
					return err
				}
				if !g.json {
					fmt.Fprintf(g.stdout, "%s (%s ↔ %s@%s, state %s)\n", a.Name, a.Maildir, a.User, a.Host, a.State)
					for _, f := range out[a.Name] {
						fmt.Fprintf(g.stdout, "  %-30s %7d messages  uidvalidity %d  uidnext %d", f.Folder, f.Messages, f.UIDValidity, f.UIDNext)
						if f.Pending > 0 {
							fmt.Fprintf(g.stdout, "  %d uploads pending", f.Pending)
						}
						fmt.Fprintln(g.stdout)
					}
				}
			}
			if g.json {
				return json.NewEncoder(g.stdout).Encode(out)
			}
			return nil
		},
	}
}
