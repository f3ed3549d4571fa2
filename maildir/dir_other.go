//go:build !linux

package maildir

import (
	"os"
	"path/filepath"
	"time"
)

// listDir returns the names in dir. The listing is never known to be a
// snapshot here: Scan compares directory mtimes to catch changes made
// while it read.
func listDir(dir string) (names []string, atomic bool, err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	names, err = d.Readdirnames(-1)
	return names, false, err
}

// listDirTypes is listDir; the types are all direntUnknown here, so List
// asks lstat for each file.
func listDirTypes(dir string, withTypes bool) (names []string, types []dirent, atomic bool, err error) {
	names, atomic, err = listDir(dir)
	if withTypes {
		types = make([]dirent, len(names))
	}
	return names, types, atomic, err
}

const (
	direntUnknown = 0
	direntRegular = 8
)

// inode is the inode number of fi: unknown (0) here.
func inode(fi os.FileInfo) uint64 { return 0 }

// changeTime is the best portable approximation of the inode change time.
func changeTime(fi os.FileInfo) time.Time { return fi.ModTime() }

// scanDir calls fn with each name in dir (see the Linux version).
func scanDir(dir string, hint func(n int), fn func(name []byte, d dirent)) (atomic bool, err error) {
	names, types, atomic, err := listDirTypes(dir, true)
	if hint != nil {
		hint(len(names))
	}
	for i, n := range names {
		fn([]byte(n), types[i])
	}
	return atomic, err
}

// dirStatter stats files by name in a directory (see the Linux version).
type dirStatter struct{ dir string }

func openDirStatter(dir string) (*dirStatter, error) { return &dirStatter{dir}, nil }

func (d *dirStatter) Close() {}

func (d *dirStatter) stat(name string) (size int64, mtime time.Time, ino uint64, ok bool) {
	return statIn(d, name)
}

// statIn is dirStatter.stat for a name of either type.
func statIn[N string | []byte](d *dirStatter, name N) (size int64, mtime time.Time, ino uint64, ok bool) {
	fi, err := os.Lstat(filepath.Join(d.dir, string(name)))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, time.Time{}, 0, false
	}
	return fi.Size(), fi.ModTime(), inode(fi), true
}
