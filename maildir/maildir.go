package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mailsync/mailsync/model"
)

// Maildir is a Maildir++ tree. The root is INBOX (root/cur, root/new,
// root/tmp); folder "A/B" is the directory root/.A.B, which also holds an
// empty maildirfolder file. Opened with OpenLayout(root, LayoutFS), it is
// a tree of nested folders instead (see LayoutFS). A Maildir holds only
// its root path and layout and is safe for concurrent use.
type Maildir struct {
	root   string
	layout Layout // "" is Maildir++
}

// Open returns the Maildir++ tree rooted at root (OpenLayout opens
// either layout). root need not exist yet
// (CreateFolder makes it); Open fails only when root is empty or exists
// and is not a directory, or cannot be examined.
func Open(root string) (*Maildir, error) {
	if root == "" {
		return nil, errors.New("maildir: empty root path")
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	root = filepath.Clean(root)
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("maildir %s: %w", root, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("maildir %s: exists and is not a directory", root)
	}
	return &Maildir{root: root}, nil
}

// Root returns the absolute path of the root directory.
func (m *Maildir) Root() string { return m.root }

// Exists reports whether the root directory exists with cur/, new/ and
// tmp/. Callers use it to tell an empty Maildir from a missing or
// unmounted one before concluding that every local message was deleted.
func (m *Maildir) Exists() bool {
	if m.layout == LayoutFS {
		inbox, err := m.fsInbox()
		return err == nil && hasSubdirs(inbox)
	}
	return hasSubdirs(m.root)
}

func hasSubdirs(path string) bool {
	for _, d := range [...]string{"cur", "new", "tmp"} {
		fi, err := os.Stat(filepath.Join(path, d))
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// Folders returns the canonical names of the folders in the tree, sorted:
// INBOX when the root has cur/, new/ and tmp/, and every ".X" directory
// that FolderName decodes and that has cur/, new/ and tmp/. Other
// directories and files are skipped. A missing root is an error
// (errors.Is(err, fs.ErrNotExist)). In the fs layout: INBOX when it
// exists, and every directory that decodes to a folder name, at any
// depth, with cur/, new/ and tmp/.
func (m *Maildir) Folders() ([]string, error) {
	if m.layout == LayoutFS {
		return m.fsFolders()
	}
	ents, err := os.ReadDir(m.root)
	if err != nil {
		return nil, fmt.Errorf("maildir %s: list folders: %w", m.root, err)
	}
	var names []string
	if hasSubdirs(m.root) {
		names = append(names, model.Inbox)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name, ok := FolderName(e.Name())
		if !ok {
			continue
		}
		// Stat, not e.IsDir(): a symlinked folder counts.
		if hasSubdirs(filepath.Join(m.root, e.Name())) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Folder returns the folder called name without touching the disk. It
// fails only when name is not a valid folder name. In the fs layout it
// also fails when a level of name cannot be stored there (see LayoutFS),
// and it looks at the disk to find where INBOX is.
func (m *Maildir) Folder(name string) (*Folder, error) {
	clean, err := model.CleanFolderName(name)
	if err != nil {
		return nil, fmt.Errorf("maildir %s: %w", m.root, err)
	}
	path := filepath.Join(m.root, DirName(clean))
	if m.layout == LayoutFS {
		if path, err = m.fsPath(clean); err != nil {
			return nil, err
		}
	}
	return &Folder{
		name:  clean,
		path:  path,
		cache: make(map[string]string),
	}, nil
}

// CreateFolder makes folder name durably: the root (with any missing
// parents), the folder directory, its cur/, new/ and tmp/, and for a
// folder other than INBOX its maildirfolder file, fsyncing every
// directory it added entries to. It is idempotent: an existing folder is
// returned as is (missing parts are added).
func (m *Maildir) CreateFolder(name string) (*Folder, error) {
	f, err := m.Folder(name)
	if err != nil {
		return nil, err
	}
	if m.layout == LayoutFS {
		if err := m.fsCreateFolder(f); err != nil {
			return nil, err
		}
		return f, nil
	}
	if err := mkdirAllSync(m.root); err != nil {
		return nil, fmt.Errorf("maildir %s: create root: %w", m.root, err)
	}
	if f.path != m.root {
		created, err := mkdir(f.path)
		if err != nil {
			return nil, fmt.Errorf("maildir %s: create folder %q: %w", f.path, f.name, err)
		}
		if created {
			if err := syncDir(m.root); err != nil {
				return nil, fmt.Errorf("maildir %s: %w", m.root, err)
			}
		}
		mf, err := os.OpenFile(filepath.Join(f.path, "maildirfolder"), os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("maildir %s: %w", f.path, err)
		}
		err = mf.Sync()
		if cerr := mf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("maildir %s: maildirfolder: %w", f.path, err)
		}
	}
	for _, d := range [...]string{"tmp", "new", "cur"} {
		if _, err := mkdir(filepath.Join(f.path, d)); err != nil {
			return nil, fmt.Errorf("maildir %s: create folder %q: %w", f.path, f.name, err)
		}
	}
	if err := syncDir(f.path); err != nil {
		return nil, fmt.Errorf("maildir %s: %w", f.path, err)
	}
	return f, nil
}

// mkdir creates dir and reports whether it did; an existing directory is
// not an error, an existing file is.
func mkdir(dir string) (bool, error) {
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return false, nil
		}
	}
	return false, err
}

// mkdirAllSync is os.MkdirAll that also fsyncs the parent of every
// directory it creates.
func mkdirAllSync(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	created, err := mkdir(dir)
	if err != nil {
		return err
	}
	if created && parent != dir {
		return syncDir(parent)
	}
	return nil
}

// syncDir fsyncs a directory so that the entries added to, renamed in or
// removed from it are durable. File systems that cannot fsync a
// directory are taken to not need it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) && !isEINVAL(err) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
