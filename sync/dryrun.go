package sync

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// dryRunState returns the path of a copy of the state file for a dry
// run to work on (an empty path in a new directory when there is no state
// yet), and a function removing the copy. The real file is only read.
func dryRunState(path string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "mailsync-dry-run-")
	if err != nil {
		return "", nil, fmt.Errorf("dry run: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	cp := filepath.Join(dir, "state.db")
	src, err := os.Open(path)
	if os.IsNotExist(err) {
		return cp, cleanup, nil
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("dry run: state %s: %w", path, err)
	}
	defer src.Close()
	dst, err := os.OpenFile(cp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = io.Copy(dst, src)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("dry run: copy state %s: %w", path, err)
	}
	return cp, cleanup, nil
}

// mayCreateLocal reports whether the run may create Maildir folders.
func (e *engine) mayCreateLocal() bool { return !e.opts.DryRun && e.opts.Policy.CanChangeLocal() }

// mayCreateRemote reports whether the run may create server folders.
func (e *engine) mayCreateRemote() bool { return !e.opts.DryRun && e.opts.Policy.CanChangeServer() }

// dryRunFolder plans one folder as a sync would, and changes nothing:
// the server folder is opened read-only (EXAMINE; bodies are fetched
// with BODY.PEEK for pairing by content), the Maildir is only read, and
// the state is a copy (dryRunState). A folder the run would create is
// planned as empty on that side. The plan goes to Options.Planned;
// deletions the guard would hold back are reported as in a sync.
func (e *engine) dryRunFolder(ctx context.Context, c conn, name string, f LocalFolder, sum *Summary) error {
	r := &folderRun{e: e, c: c, name: name, f: f, sum: sum, unconfirmed: map[string]bool{}, refused: map[string]string{}}
	st, err := e.db.Load(name)
	if err != nil {
		return err
	}
	in := &plan.Input{Folder: name, State: st, UIDValidity: st.UIDValidity, Unkept: st.Unkept,
		AllowMassDelete: e.opts.AllowMassDelete, Policy: e.opts.Policy}
	if !e.dryNewOnServer[name] {
		// Read-only: PERMANENTFLAGS is empty, so the flags the server
		// cannot store are the ones the last sync recorded.
		if r.status, err = c.Select(ctx, name, true); err != nil {
			return fmt.Errorf("select: %w", err)
		}
		in.UIDValidity = r.status.UIDValidity
		if in.Remote, err = r.listRemote(ctx, st); err != nil {
			return fmt.Errorf("list messages on the server: %w", err)
		}
	}
	if f.Exists() {
		entries, err := f.Scan()
		if err != nil {
			return err
		}
		for _, en := range entries {
			in.Local = append(in.Local, model.LocalMsg{Key: en.Key, Flags: en.Flags})
		}
	}
	if err := r.fingerprint(ctx, in); err != nil {
		return err
	}
	if err := r.hash(ctx, in); err != nil {
		return err
	}
	pl, err := plan.Build(in)
	if err != nil {
		return err
	}
	for _, b := range pl.Blocked {
		sum.Errors = append(sum.Errors, b)
		e.note("error: %s", b)
	}
	if e.opts.Planned != nil {
		e.opts.Planned(name, pl)
	}
	return nil
}
