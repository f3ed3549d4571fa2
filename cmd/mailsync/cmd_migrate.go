package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailsync/mailsync/migrate"
)

func migrateCommand(g *globals) *cli.Command {
	var dryRun bool
	var maps cli.StringSlice
	return &cli.Command{
		Name:      "migrate",
		Usage:     "copy every folder and message of account FROM to account TO, server to server (resumable)",
		ArgsUsage: "FROM TO",
		Description: "Copies folders, messages, flags, keywords and internal dates; nothing on FROM is changed and\n" +
			"nothing on TO is changed or deleted. Messages TO already holds are found by content and not copied\n" +
			"again, so a rerun (after Ctrl-C, a crash, or another tool) copies only what is missing.\n" +
			"Special-use folders (Sent, Trash, Junk, Drafts, Archive) go to TO's folder of the same use;\n" +
			"Gmail's All Mail and Important are not copied as folders. --map \"Old=New\" overrides.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and change nothing", Destination: &dryRun},
			&cli.StringSliceFlag{Name: "map", Usage: "copy FROM's folder `OLD=NEW` to TO's folder NEW (repeatable; \"/\"-separated names)", Destination: &maps},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 2 {
				return usagef("migrate needs two account names, FROM and TO (got %d)", len(args))
			}
			if args[0] == args[1] {
				return usagef("migrate %s %s: FROM and TO are the same account", args[0], args[1])
			}
			folderMap := map[string]string{} // --map, over FROM's folder_map
			for _, m := range maps.Value() {
				old, new, ok := strings.Cut(m, "=")
				if !ok || strings.TrimSpace(old) == "" || strings.TrimSpace(new) == "" {
					return usagef("migrate --map %q: want OLD=NEW, e.g. --map \"Sent Messages=Sent\"", m)
				}
				folderMap[strings.TrimSpace(old)] = strings.TrimSpace(new)
			}
			accts, err := g.accounts(args)
			if err != nil {
				return err
			}
			for k, v := range accts[0].FolderMap {
				if _, ok := folderMap[k]; !ok {
					folderMap[k] = v
				}
			}
			var o migrate.Options
			if o.From, err = imapOptions(c.Context, g, accts[0]); err != nil {
				return err
			}
			if o.To, err = imapOptions(c.Context, g, accts[1]); err != nil {
				return err
			}
			o.Map, o.DryRun = folderMap, dryRun
			var bar *progressBar
			if g.isTerminal && !g.quiet && !g.json && !dryRun {
				bar = newProgressBar(g.stderr, args[0]+" → "+args[1])
				o.Progress = bar
			}
			o.Warnf = func(format string, args ...any) {
				if g.quiet {
					return
				}
				if bar != nil {
					bar.Clear()
				}
				fmt.Fprintf(g.stderr, "mailsync: migrate: warning: "+format+"\n", args...)
			}
			rep, err := migrate.Run(c.Context, o)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				err = fmt.Errorf("migrate %s → %s: %w", args[0], args[1], err)
				if c.Context.Err() != nil {
					err = fmt.Errorf("%w (%d messages copied; run the same command again to finish)", err, rep.Copied)
				}
			}
			printMigrate(g, rep, err)
			var pe *migrate.PartialError
			if errors.As(err, &pe) {
				fmt.Fprintf(g.stderr, "mailsync: %v\n", err)
				return exitStatus(exitPartial)
			}
			return err
		},
	}
}

// printMigrate prints the plan (--dry-run) or the summary, as text or
// --json.
func printMigrate(g *globals, rep *migrate.Report, err error) {
	if g.json {
		out := map[string]any{"ok": err == nil, "report": rep}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(g.stdout).Encode(out)
		return
	}
	if g.quiet && !rep.DryRun {
		return
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(g.stdout, "skip %s\n", s)
	}
	for _, f := range rep.Folders {
		if !rep.DryRun && !g.verbose {
			continue
		}
		create := ""
		if f.Create {
			create = " (new folder)"
		}
		verb := "copied"
		n, b := f.Copied, f.Bytes
		if rep.DryRun {
			verb, n, b = "to copy", f.Copy, f.CopyBytes
		}
		flags := ""
		if f.FlagUpdates > 0 {
			flags = fmt.Sprintf(", flags to add on %d", f.FlagUpdates)
		}
		fmt.Fprintf(g.stdout, "%s → %s%s: %d messages, %d already there, %d %s (%s)%s\n", f.From, f.To, create, f.Messages, f.Present, n, verb, humanBytes(b), flags)
	}
	if err == nil || rep.DryRun || rep.Copied > 0 {
		if rep.DryRun {
			fmt.Fprintf(g.stdout, "dry run: %d folders, %d messages (%s) to copy, %d already there; nothing changed\n", len(rep.Folders), rep.Messages, humanBytes(rep.Bytes), rep.Present)
		} else {
			fmt.Fprintf(g.stdout, "%d folders (%d created), %d messages (%s) copied, %d already there\n", len(rep.Folders), rep.Created, rep.Copied, humanBytes(rep.CopiedB), rep.Present)
		}
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
