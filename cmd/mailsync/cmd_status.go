package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/statedb"
)

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
