package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailsync/mailsync/model"
)

// ErrFolderExists is matched (errors.Is) by RenameFolder's error when a
// target folder already exists.
var ErrFolderExists = errors.New("folder already exists")

// RemoveFolder deletes folder name and everything in it durably: the
// directory is first renamed, in one step, to a name no reader takes for
// a folder ("..mailsync-removing-<key>"), the root is fsynced, and only
// then are the files removed, so a crash never leaves a half-removed
// folder that looks like a folder. Its subfolders (separate Maildir++
// directories) are left alone, as IMAP DELETE requires. INBOX cannot be
// removed; a missing folder gives errors.Is(err, fs.ErrNotExist). A
// symlinked folder loses its link only.
func (m *Maildir) RemoveFolder(name string) error {
	f, err := m.Folder(name)
	if err != nil {
		return err
	}
	if f.name == model.Inbox {
		return fmt.Errorf("maildir %s: INBOX cannot be removed", m.root)
	}
	if m.layout == LayoutFS {
		return m.fsRemoveFolder(f)
	}
	if _, err := os.Lstat(f.path); err != nil {
		return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
	}
	trash := filepath.Join(m.root, "..mailsync-removing-"+NewKey())
	if err := os.Rename(f.path, trash); err != nil {
		return fmt.Errorf("maildir %s: remove folder %q: %w", m.root, f.name, err)
	}
	if err := syncDir(m.root); err != nil {
		return fmt.Errorf("maildir %s: %w", m.root, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("maildir %s: remove folder %q (left in %s): %w", m.root, f.name, filepath.Base(trash), err)
	}
	return nil
}

// RenameFolder renames folder from and its subfolders to to (from/X
// becomes to/X), each directory with one rename, then fsyncs the root.
// It fails before renaming anything when from does not exist
// (fs.ErrNotExist), a target exists (ErrFolderExists), to lies under
// from, or either is INBOX. It returns the pairs renamed, parents first.
// A crash part way leaves each folder whole under its old or new name.
func (m *Maildir) RenameFolder(from, to string) ([][2]string, error) {
	src, err := m.Folder(from)
	if err != nil {
		return nil, err
	}
	dst, err := m.Folder(to)
	if err != nil {
		return nil, err
	}
	from, to = src.name, dst.name
	if from == model.Inbox || to == model.Inbox {
		return nil, fmt.Errorf("maildir %s: INBOX cannot be renamed", m.root)
	}
	if from == to || strings.HasPrefix(to, from+"/") {
		return nil, fmt.Errorf("maildir %s: cannot rename %q into itself", m.root, from)
	}
	all, err := m.Folders()
	if err != nil {
		return nil, err
	}
	var moves [][2]string
	for _, n := range all {
		if n == from || strings.HasPrefix(n, from+"/") {
			moves = append(moves, [2]string{n, to + n[len(from):]})
		}
	}
	if len(moves) == 0 {
		return nil, fmt.Errorf("maildir %s: rename folder %q: %w", m.root, from, fs.ErrNotExist)
	}
	if m.layout == LayoutFS {
		return m.fsRenameFolder(src, dst, moves)
	}
	for _, mv := range moves {
		if _, err := os.Lstat(filepath.Join(m.root, DirName(mv[1]))); err == nil {
			return nil, fmt.Errorf("maildir %s: rename %q to %q: %w", m.root, mv[0], mv[1], ErrFolderExists)
		}
	}
	for i, mv := range moves {
		if err := os.Rename(filepath.Join(m.root, DirName(mv[0])), filepath.Join(m.root, DirName(mv[1]))); err != nil {
			syncDir(m.root)
			return moves[:i], fmt.Errorf("maildir %s: rename %q to %q: %w", m.root, mv[0], mv[1], err)
		}
	}
	if err := syncDir(m.root); err != nil {
		return moves, fmt.Errorf("maildir %s: %w", m.root, err)
	}
	return moves, nil
}

// Stamp is a cheap summary of a folder's state: the modification times
// of new/ and cur/. Any delivery, rename or removal of a message file
// changes one of them (on file systems with fine timestamps; callers
// rescan anyway when the stamp is close to the time they last scanned).
type Stamp struct {
	New, Cur time.Time
}

// Complete reports whether both directories were there.
func (s Stamp) Complete() bool { return !s.New.IsZero() && !s.Cur.IsZero() }

// Latest is the later of the two times.
func (s Stamp) Latest() time.Time {
	if s.Cur.After(s.New) {
		return s.Cur
	}
	return s.New
}

// ChangeStamp returns the folder's Stamp (zero times for missing
// directories). It costs two stat calls.
func (f *Folder) ChangeStamp() Stamp {
	t := f.dirMtimes()
	return Stamp{New: t[0], Cur: t[1]}
}
