package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

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
				acct, err := engineAccount(c.Context, g, a)
				if err != nil {
					return err
				}
				rep, err := sync.Verify(c.Context, acct, sync.VerifyOptions{Quick: quick})
				if err != nil {
					err = fmt.Errorf("verify %s: %w", a.Name, err)
					if g.json {
						// The reason goes into the JSON too; it is also
						// printed on stderr.
						json.NewEncoder(g.stdout).Encode(map[string]any{"ok": false, "error": err.Error(), "accounts": reports})
					}
					return err
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
