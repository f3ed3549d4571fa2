package maildir

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Confined reports, as a nil error, that folder f resolves (following
// every symbolic link) to a directory inside the Maildir root. A
// folder directory such as ".Evil -> /elsewhere" that leads out of the
// root gives an error naming the folder; callers that publish the
// Maildir (serve) refuse such folders. A folder that does not exist is
// confined (there is nothing to follow).
func (m *Maildir) Confined(f *Folder) error {
	root, err := filepath.EvalSymlinks(m.root)
	if err != nil {
		return fmt.Errorf("maildir %s: %w", m.root, err)
	}
	p, err := filepath.EvalSymlinks(f.path)
	if err != nil {
		return nil
	}
	for _, d := range [...]string{"", "cur", "new", "tmp"} {
		q, err := filepath.EvalSymlinks(filepath.Join(p, d))
		if err != nil {
			continue
		}
		if q != root && !strings.HasPrefix(q, root+string(filepath.Separator)) {
			return fmt.Errorf("maildir %s: folder %q leads out of the maildir (to %s)", m.root, f.name, q)
		}
	}
	return nil
}
