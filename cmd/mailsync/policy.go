package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailsync/mailsync/config"
	"github.com/mailsync/mailsync/sync"
	"github.com/mailsync/mailsync/sync/plan"
)

// check refuses contradictory or malformed sync options.
func (o *syncOptions) check() error {
	if o.direction != "" {
		if _, err := plan.ParseDirection(o.direction); err != nil {
			return usagef("sync --direction: %v", err)
		}
	}
	if o.deletions != "" {
		if _, err := plan.ParseDeletions(o.deletions); err != nil {
			return usagef("sync --deletions: %v", err)
		}
	}
	if o.restore && o.allowMassDelete {
		return usagef("sync: --restore copies back what --allow-mass-delete would delete: give one of them")
	}
	if o.retriesSet && (o.retries < 0 || o.retries > 20) {
		return usagef("sync --retries: %d is out of range (0-20)", o.retries)
	}
	if o.dryRun && o.watch {
		return usagef("sync: --dry-run plans one run; it does not go with --watch")
	}
	return nil
}

// engineOptions is the engine's options for one account: the command
// line's direction, deletions and retries win over the account's.
func (o *syncOptions) engineOptions(a *config.Account) sync.Options {
	dir, del, retries := a.Direction, a.Deletions, a.Retries
	if o.direction != "" {
		dir = o.direction
	}
	if o.deletions != "" {
		del = o.deletions
	}
	if o.retriesSet {
		retries = o.retries
	}
	var pol plan.Policy
	pol.Direction, _ = plan.ParseDirection(dir) // checked by config and check
	pol.Deletions, _ = plan.ParseDeletions(del)
	pol.Restore = o.restore
	if retries == 0 {
		retries = -1 // the engine's "none"; its 0 is the default
	}
	return sync.Options{AllowMassDelete: o.allowMassDelete, Full: o.full, Policy: pol, DryRun: o.dryRun, Retries: retries}
}

// planSummary counts what a plan would do, as a sync's summary counts
// what it did.
func planSummary(p *plan.Plan) sync.Summary {
	s := sync.Summary{Downloaded: len(p.Download), Uploaded: len(p.Upload), DeletedLocal: len(p.DeleteLocal) + len(p.RemoveOrphans),
		ExpungedRemote: len(p.ExpungeRemote), Paired: len(p.Pair)}
	for _, d := range p.Download {
		s.BytesDown += d.Size
	}
	for _, f := range p.Flags {
		if f.ServerTarget(p.Unkept) != f.Remote {
			s.FlagsToServer++
		}
		if f.Target != f.Local {
			s.FlagsToLocal++
		}
	}
	return s
}

func addCounts(dst *sync.Summary, s sync.Summary) {
	dst.Downloaded += s.Downloaded
	dst.Uploaded += s.Uploaded
	dst.BytesDown += s.BytesDown
	dst.BytesUp += s.BytesUp
	dst.FlagsToServer += s.FlagsToServer
	dst.FlagsToLocal += s.FlagsToLocal
	dst.DeletedLocal += s.DeletedLocal
	dst.ExpungedRemote += s.ExpungedRemote
	dst.Paired += s.Paired
}

// printPlan prints a dry run's plan for one folder: a line of counts
// and, with verbose, a line per message.
func printPlan(w io.Writer, account string, p *plan.Plan, verbose bool) {
	s := planSummary(p)
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.Downloaded, "to download")
	add(s.Uploaded, "to upload")
	add(s.FlagsToServer, "flag changes to the server")
	add(s.FlagsToLocal, "flag changes to the Maildir")
	add(s.DeletedLocal, "to delete from the Maildir")
	add(s.ExpungedRemote, "to expunge on the server")
	add(s.Paired, "to pair by content")
	add(len(p.Blocked), "mass deletions held back")
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	line := strings.Join(parts, ", ")
	if s.BytesDown > 0 {
		line += fmt.Sprintf(" (%d bytes to download)", s.BytesDown)
	}
	fmt.Fprintf(w, "%s: %s: %s\n", account, p.Folder, line)
	if !verbose {
		return
	}
	for _, d := range p.Download {
		fmt.Fprintf(w, "  download UID %d (%d bytes, flags %s)\n", d.UID, d.Size, d.Flags)
	}
	for _, u := range p.Upload {
		fmt.Fprintf(w, "  upload %s (flags %s)\n", u.Key, u.Flags)
	}
	for _, f := range p.Flags {
		if t := f.ServerTarget(p.Unkept); t != f.Remote {
			fmt.Fprintf(w, "  flags on the server, UID %d: %s -> %s\n", f.UID, f.Remote, t)
		}
		if f.Target != f.Local {
			fmt.Fprintf(w, "  flags in the Maildir, %s: %s -> %s\n", f.Key, f.Local, f.Target)
		}
	}
	for _, x := range p.DeleteLocal {
		fmt.Fprintf(w, "  delete %s from the Maildir (UID %d is gone from the server)\n", x.Key, x.UID)
	}
	for _, k := range p.RemoveOrphans {
		fmt.Fprintf(w, "  delete %s from the Maildir (left by an interrupted download)\n", k)
	}
	for _, x := range p.ExpungeRemote {
		fmt.Fprintf(w, "  expunge UID %d on the server (%s is gone from the Maildir)\n", x.UID, x.Key)
	}
	for _, np := range p.Pair {
		fmt.Fprintf(w, "  pair UID %d with %s (same content)\n", np.UID, np.Key)
	}
	for _, b := range p.Blocked {
		fmt.Fprintf(w, "  held back: %s\n", b)
	}
}
