package watch

import (
	"context"
	"os"
	"path/filepath"
	gosync "sync"

	"github.com/fsnotify/fsnotify"

	"github.com/mailsync/mailsync/maildir"
)

// fsWatch watches cur/ and new/ of every selected local folder, and the
// Maildir root (a folder created or removed there asks for a full pass).
type fsWatch struct {
	w   *watcher
	fsn *fsnotify.Watcher

	mu   gosync.Mutex
	dirs map[string]string // watched directory → folder ("" for the root)
}

func newFSWatch(w *watcher) (*fsWatch, error) {
	fsn, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	f := &fsWatch{w: w, fsn: fsn, dirs: map[string]string{}}
	f.refresh()
	return f, nil
}

func (f *fsWatch) close() { f.fsn.Close() }

// refresh adds watches for folders that appeared since the last call and
// drops those of folders that are gone. Called after every full pass.
func (f *fsWatch) refresh() {
	root := f.w.o.Account.Maildir
	md, err := maildir.OpenLayout(root, f.w.o.Account.Layout)
	if err != nil {
		f.w.logf("warning: watching %s: %v", root, err)
		return
	}
	want := map[string]string{}
	if _, err := os.Stat(root); err == nil {
		want[root] = ""
	}
	names, _ := md.Folders()
	for _, name := range names {
		if !f.w.sel.Match(name) {
			continue
		}
		fo, err := md.Folder(name)
		if err != nil {
			continue
		}
		want[filepath.Join(fo.Path(), "cur")] = name
		want[filepath.Join(fo.Path(), "new")] = name
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for dir := range f.dirs {
		if _, ok := want[dir]; !ok {
			f.fsn.Remove(dir)
			delete(f.dirs, dir)
		}
	}
	for dir, name := range want {
		if _, ok := f.dirs[dir]; ok {
			continue
		}
		if err := f.fsn.Add(dir); err != nil {
			f.w.logf("warning: cannot watch %s (%v): folder %q is synced every full pass only", dir, err, name)
			continue
		}
		f.dirs[dir] = name
	}
}

// run turns events into dirty folders until ctx ends.
func (f *fsWatch) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-f.fsn.Events:
			if !ok {
				return
			}
			f.mu.Lock()
			name, watched := f.dirs[filepath.Dir(ev.Name)]
			f.mu.Unlock()
			switch {
			case !watched:
			case name != "":
				f.w.mark(name)
			case filepath.Base(ev.Name) != "" && filepath.Base(ev.Name)[0] == '.' && ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0:
				// A folder directory appeared or went away at the root.
				if _, ok := maildir.FolderName(filepath.Base(ev.Name)); ok {
					f.w.mark("")
				}
			}
		case err, ok := <-f.fsn.Errors:
			if !ok {
				return
			}
			// An overflow loses events: sync everything.
			f.w.logf("warning: watching the Maildir: %v", err)
			f.w.mark("")
		}
	}
}
