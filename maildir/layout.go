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

// Layout is how folders are laid out under a Maildir's root.
type Layout string

// The layouts.
const (
	// LayoutMaildirPP is Maildir++ (Dovecot, Courier, mailsync's
	// default): the root is INBOX, folder "A/B" is the directory ".A.B"
	// (see DirName).
	LayoutMaildirPP Layout = "maildir++"
	// LayoutFS is nested folders, as mbsync writes them with "SubFolders
	// Verbatim" and OfflineIMAP with "sep = /": folder "A/B" is the
	// directory "A/B", each level spelled in modified UTF-7 (RFC 3501
	// 5.1.3) as both tools do ("Été" is "&AMk-t&AOk-"; "&" is "&-").
	// INBOX is the directory "INBOX" (OfflineIMAP; mbsync with "Inbox
	// <Path>/INBOX"), or the root itself when the root has cur/, new/
	// and tmp/ and "INBOX" does not (mbsync with "Inbox" equal to
	// "Path"). A new Maildir gets "INBOX". Levels that would collide with
	// a Maildir's own entries (cur, new, tmp, dovecot-keywords,
	// maildirfolder) or that start with "." (hidden, and how mbsync and
	// mailsync name their own files) cannot be stored: Folder refuses
	// them and Folders skips such directories. No maildirfolder file is
	// written (neither tool writes one).
	LayoutFS Layout = "fs"
)

// ParseLayout checks a layout name as given in a config file or on the
// command line: "maildir++" or "fs"; "" is the default (Maildir++, with
// the check OpenLayout describes).
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(s); l {
	case "", LayoutMaildirPP, LayoutFS:
		return l, nil
	}
	return "", fmt.Errorf("%q is not a Maildir layout: use \"maildir++\" or \"fs\"", s)
}

// ErrNotStorable is matched (errors.Is) by the error of Folder and
// CreateFolder for a folder name the fs layout cannot store (see
// LayoutFS). Sync skips such a folder with a warning, as it skips other
// names that cannot be represented.
var ErrNotStorable = errors.New("folder name cannot be stored in this Maildir layout")

// ErrLayoutMismatch is matched (errors.Is) by OpenLayout's error when the
// tree on disk is clearly laid out otherwise than asked.
var ErrLayoutMismatch = errors.New("maildir layout mismatch")

// OpenLayout is Open for a given layout. layout "" is Maildir++, but an
// existing tree that is clearly nested folders (a directory such as
// INBOX/ or Archive/2002/ with cur/, new/ and tmp/, and no ".X" Maildir++
// folder) is refused with ErrLayoutMismatch rather than silently grown
// into a second, Maildir++ tree beside the first; LayoutMaildirPP opens
// such a tree as Maildir++ anyway. LayoutFS is refused the same way on a
// tree that is clearly Maildir++ (".X" folders and no nested ones).
func OpenLayout(root string, layout Layout) (*Maildir, error) {
	if _, err := ParseLayout(string(layout)); err != nil {
		return nil, fmt.Errorf("maildir %s: %w", root, err)
	}
	m, err := Open(root)
	if err != nil {
		return nil, err
	}
	if layout == LayoutFS {
		m.layout = LayoutFS
	}
	nested, dotted := m.detect()
	switch {
	case layout == "" && nested != "" && dotted == "":
		return nil, fmt.Errorf("maildir %s holds nested folders (%s has cur/, new/ and tmp/), as mbsync's \"SubFolders Verbatim\" and OfflineIMAP write them, not Maildir++ folders: set layout = \"fs\" for it in the config (serve: --layout fs), or layout = \"maildir++\" to use it as Maildir++ anyway: %w",
			m.root, nested, ErrLayoutMismatch)
	case layout == LayoutFS && dotted != "" && nested == "":
		return nil, fmt.Errorf("maildir %s holds Maildir++ folders (%s), not nested ones: remove layout = \"fs\" (or --layout fs) to use it as Maildir++: %w",
			m.root, dotted, ErrLayoutMismatch)
	}
	return m, nil
}

// Layout returns the Maildir's layout.
func (m *Maildir) Layout() Layout {
	if m.layout == "" {
		return LayoutMaildirPP
	}
	return m.layout
}

// detect looks for evidence of either layout: nested is a path (relative
// to the root) of a non-hidden directory, at most three levels down,
// holding cur/, new/ and tmp/; dotted is a ".X" directory holding them.
// Either is "" when none was found.
func (m *Maildir) detect() (nested, dotted string) {
	ents, err := os.ReadDir(m.root)
	if err != nil {
		return "", ""
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "..") || !e.IsDir() {
			continue
		}
		if strings.HasPrefix(n, ".") {
			if dotted == "" && hasSubdirs(filepath.Join(m.root, n)) {
				dotted = n
			}
			continue
		}
		if nested == "" && !isMaildirEntry(n) {
			nested = findNested(m.root, n, 3)
		}
	}
	return nested, dotted
}

// findNested returns rel (or a directory under it, depth levels at most)
// when it holds cur/, new/ and tmp/.
func findNested(root, rel string, depth int) string {
	p := filepath.Join(root, rel)
	if hasSubdirs(p) {
		return rel
	}
	if depth <= 1 {
		return ""
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !isMaildirEntry(e.Name()) {
			if r := findNested(root, filepath.Join(rel, e.Name()), depth-1); r != "" {
				return r
			}
		}
	}
	return ""
}

// isMaildirEntry reports whether name is an entry a Maildir folder's
// directory holds for itself, which an fs-layout folder level cannot be.
func isMaildirEntry(name string) bool {
	switch name {
	case "cur", "new", "tmp", KeywordsFile, "maildirfolder":
		return true
	}
	return false
}

// fsLevel returns the on-disk spelling of one level of a folder name in
// the fs layout, or an error saying why the level cannot be stored.
func fsLevel(level string) (string, error) {
	enc := utf7Encode(level)
	switch {
	case strings.HasPrefix(enc, "."):
		return "", fmt.Errorf("level %q starts with \".\", which marks hidden files and other programs' state in an fs-layout Maildir", level)
	case isMaildirEntry(enc):
		return "", fmt.Errorf("level %q is the name of an entry every Maildir folder holds (cur, new, tmp, %s, maildirfolder)", level, KeywordsFile)
	}
	return enc, nil
}

// fsFolderLevel is the inverse of fsLevel for a directory name; it reports
// false for anything fsLevel would not produce.
func fsFolderLevel(dir string) (string, bool) {
	level, err := utf7Decode(dir)
	if err != nil || level == "" {
		return "", false
	}
	if enc, err := fsLevel(level); err != nil || enc != dir {
		return "", false
	}
	return level, true
}

// FSDirName returns the directory, relative to the root of an fs-layout
// Maildir, of folder name (clean, not INBOX): "Archive/2002" for
// "Archive/2002", "&AMk-t&AOk-" for "Été". It fails, naming the level,
// when a level cannot be stored in the fs layout (see LayoutFS).
func FSDirName(name string) (string, error) {
	levels := strings.Split(name, "/")
	for i, l := range levels {
		enc, err := fsLevel(l)
		if err != nil {
			return "", fmt.Errorf("folder %q cannot be stored in an fs-layout Maildir: %v; leave it out (folders = [\"*\", \"!%s\"]) or use layout = \"maildir++\": %w", name, err, name, ErrNotStorable)
		}
		levels[i] = enc
	}
	return filepath.Join(levels...), nil
}

// fsInbox returns the directory of INBOX in the fs layout: root/INBOX
// when it has cur/, new/ and tmp/, else the root when it has them, else
// (a new Maildir) root/INBOX. Both holding a Maildir is an error.
func (m *Maildir) fsInbox() (string, error) {
	sub := filepath.Join(m.root, model.Inbox)
	inSub, inRoot := hasSubdirs(sub), hasSubdirs(m.root)
	switch {
	case inSub && inRoot:
		return "", fmt.Errorf("maildir %s: both the root and %s hold cur/, new/ and tmp/, and an fs-layout Maildir has one INBOX: move the messages of one into the other and remove its cur/, new/ and tmp/", m.root, sub)
	case inRoot:
		return m.root, nil
	}
	return sub, nil
}

// fsPath returns the directory of folder name (clean) in the fs layout.
func (m *Maildir) fsPath(name string) (string, error) {
	if name == model.Inbox {
		return m.fsInbox()
	}
	rel, err := FSDirName(name)
	if err != nil {
		return "", fmt.Errorf("maildir %s: %w", m.root, err)
	}
	return filepath.Join(m.root, rel), nil
}

// maxFSDepth bounds how deep Folders looks in the fs layout.
const maxFSDepth = 32

// fsFolders is Folders for the fs layout.
func (m *Maildir) fsFolders() ([]string, error) {
	if _, err := os.ReadDir(m.root); err != nil {
		return nil, fmt.Errorf("maildir %s: list folders: %w", m.root, err)
	}
	inbox, err := m.fsInbox()
	if err != nil {
		return nil, err
	}
	var names []string
	if hasSubdirs(inbox) {
		names = append(names, model.Inbox)
	}
	var walk func(dir, prefix string, depth int)
	walk = func(dir, prefix string, depth int) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			level, ok := fsFolderLevel(e.Name())
			if !ok {
				continue
			}
			p := filepath.Join(dir, e.Name())
			// Stat, not e.IsDir(): a symlinked folder counts; but
			// symlinks are not followed further down (no loops).
			fi, err := os.Stat(p)
			if err != nil || !fi.IsDir() {
				continue
			}
			name := prefix + level
			if clean, err := model.CleanFolderName(name); err == nil && clean == name && name != model.Inbox && hasSubdirs(p) {
				names = append(names, name)
			}
			if depth < maxFSDepth && e.Type()&fs.ModeSymlink == 0 {
				walk(p, name+"/", depth+1)
			}
		}
	}
	walk(m.root, "", 1)
	sort.Strings(names)
	return names, nil
}

// fsCreateFolder is CreateFolder for the fs layout.
func (m *Maildir) fsCreateFolder(f *Folder) error {
	if err := mkdirAllSync(m.root); err != nil {
		return fmt.Errorf("maildir %s: create root: %w", m.root, err)
	}
	if f.path != m.root {
		rel, err := filepath.Rel(m.root, f.path)
		if err != nil {
			return fmt.Errorf("maildir %s: %w", m.root, err)
		}
		dir := m.root
		for _, l := range strings.Split(rel, string(filepath.Separator)) {
			parent := dir
			dir = filepath.Join(dir, l)
			created, err := mkdir(dir)
			if err != nil {
				return fmt.Errorf("maildir %s: create folder %q: %w", dir, f.name, err)
			}
			if created {
				if err := syncDir(parent); err != nil {
					return fmt.Errorf("maildir %s: %w", parent, err)
				}
			}
		}
	}
	for _, d := range [...]string{"tmp", "new", "cur"} {
		if _, err := mkdir(filepath.Join(f.path, d)); err != nil {
			return fmt.Errorf("maildir %s: create folder %q: %w", f.path, f.name, err)
		}
	}
	if err := syncDir(f.path); err != nil {
		return fmt.Errorf("maildir %s: %w", f.path, err)
	}
	return nil
}

// fsHasChildren reports whether dir holds directories other than a
// folder's own (subfolders, or anything else that is not the folder's).
func fsHasChildren(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if isDirEntry(dir, e) && !isMaildirEntry(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			return true
		}
	}
	return false
}

// isDirEntry reports whether e, an entry of dir, is a directory or a
// symbolic link to one (a symlinked subfolder is a subfolder).
func isDirEntry(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && fi.IsDir()
	}
	return e.IsDir()
}

// fsRemoveFolder is RemoveFolder for the fs layout. A folder without
// subfolders is renamed away whole, as in Maildir++. A folder with
// subfolders keeps its directory (it holds them): its cur/ is moved out
// first, in one rename, so that it stops being a folder at once, then
// new/, tmp/ and its own files (dovecot-keywords, mbsync's .uidvalidity
// and .mbsyncstate), and they are deleted.
func (m *Maildir) fsRemoveFolder(f *Folder) error {
	fi, err := os.Lstat(f.path)
	if err == nil && fi.Mode()&fs.ModeSymlink == 0 && !hasAnySubdir(f.path) {
		err = fs.ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
	}
	parent := filepath.Dir(f.path)
	trashName := "..mailsync-removing-" + NewKey()
	if fi.Mode()&fs.ModeSymlink != 0 || !fsHasChildren(f.path) {
		trash := filepath.Join(parent, trashName)
		if err := os.Rename(f.path, trash); err != nil {
			return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
		}
		if err := syncDir(parent); err != nil {
			return fmt.Errorf("maildir %s: %w", parent, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("maildir %s: remove folder %q (left in %s): %w", m.root, f.name, trash, err)
		}
		return nil
	}
	trash := filepath.Join(f.path, trashName)
	if err := os.Mkdir(trash, 0o700); err != nil {
		return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
	}
	ents, err := os.ReadDir(f.path)
	if err != nil {
		return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
	}
	move := []string{"cur", "new", "tmp"}
	for _, e := range ents {
		if !isDirEntry(f.path, e) {
			move = append(move, e.Name())
		}
	}
	for _, n := range move {
		if err := os.Rename(filepath.Join(f.path, n), filepath.Join(trash, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			syncDir(f.path)
			return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
		}
		if n == "cur" {
			if err := syncDir(f.path); err != nil {
				return fmt.Errorf("maildir %s: %w", f.path, err)
			}
		}
	}
	if err := syncDir(f.path); err != nil {
		return fmt.Errorf("maildir %s: %w", f.path, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("maildir %s: remove folder %q (left in %s): %w", m.root, f.name, trash, err)
	}
	return nil
}

// hasAnySubdir reports whether dir has at least one of cur/, new/, tmp/.
func hasAnySubdir(dir string) bool {
	for _, d := range [...]string{"cur", "new", "tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// fsRenameFolder is RenameFolder for the fs layout, after the checks
// common to both layouts: one rename of the directory, which carries
// the subfolders with it.
func (m *Maildir) fsRenameFolder(src, dst *Folder, moves [][2]string) ([][2]string, error) {
	if _, err := os.Lstat(dst.path); err == nil {
		return nil, fmt.Errorf("maildir %s: rename %q to %q: %w", m.root, src.name, dst.name, ErrFolderExists)
	}
	if _, err := os.Lstat(src.path); err != nil {
		return nil, fmt.Errorf("maildir %s: rename folder %q: %w", m.root, src.name, err)
	}
	to := filepath.Dir(dst.path)
	if err := mkdirAllSync(to); err != nil {
		return nil, fmt.Errorf("maildir %s: rename %q to %q: %w", m.root, src.name, dst.name, err)
	}
	if err := os.Rename(src.path, dst.path); err != nil {
		return nil, fmt.Errorf("maildir %s: rename %q to %q: %w", m.root, src.name, dst.name, err)
	}
	if err := syncDir(to); err != nil {
		return moves, fmt.Errorf("maildir %s: %w", to, err)
	}
	if from := filepath.Dir(src.path); from != to {
		if err := syncDir(from); err != nil {
			return moves, fmt.Errorf("maildir %s: %w", from, err)
		}
	}
	return moves, nil
}
