//go:build linux

package maildir

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxDirent is more than the largest linux_dirent64 record (19 bytes of
// header, a name of up to 255 bytes, its NUL, padding to 8).
const maxDirent = 512

// maxSnapshotBuf caps the buffer used to read a directory in one call;
// larger directories are read in pieces (not atomic).
const maxSnapshotBuf = 256 << 20

// listDir returns the names in dir other than "." and "..". atomic is
// true when the names were read by a single getdents64 call that reached
// the end of the directory: the kernel holds the directory's lock for
// the whole call, so the names are a snapshot that no concurrent rename,
// link or unlink in dir can tear.
func listDir(dir string) (names []string, atomic bool, err error) {
	names, _, atomic, err = listDirTypes(dir, false)
	return names, atomic, err
}

// listDirTypes is listDir that also returns, with withTypes, each name's
// file type and inode number as the directory tells them (types[i] for
// names[i]; see direntRegular): no stat per file.
func listDirTypes(dir string, withTypes bool) (names []string, types []dirent, atomic bool, err error) {
	atomic, err = scanDir(dir, nil, func(name []byte, d dirent) {
		names = append(names, string(name))
		if withTypes {
			types = append(types, d)
		}
	})
	if err != nil {
		return nil, nil, false, err
	}
	return names, types, atomic, nil
}

func getdents(fd int, buf []byte) (int, error) {
	for {
		n, err := syscall.Getdents(fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return n, err
	}
}

// The d_type values listDirTypes reports that List relies on: a
// regular file, and "unknown" (the file system does not say; List then
// asks lstat).
const (
	direntUnknown = syscall.DT_UNKNOWN
	direntRegular = syscall.DT_REG
)

// inode is the inode number of fi (0 when unknown).
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// changeTime is the inode change time of fi (falling back on its mtime):
// Deliver sets a tmp file's mtime to the message date, so stale tmp files
// are recognised by their ctime.
func changeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}

// scanDir calls fn with each name in dir other than "." and ".." and what
// the directory tells of it, without allocating a string per name (name
// is only valid during the call). atomic is as for listDirTypes. hint,
// when not nil, is first told how many names (at least, about) fn is
// about to get, so that the caller can make room for them at once.
func scanDir(dir string, hint func(n int), fn func(name []byte, d dirent)) (atomic bool, err error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	size := 64 << 10
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil && st.Size > int64(size)/2 {
		// Most file systems give a directory a size near the bytes of
		// its entries: one buffer of about that size is read at once,
		// rather than growing one by rereading.
		size = int(min(2*st.Size, maxSnapshotBuf))
	}
	var bp *[]byte
	defer func() {
		if bp != nil {
			dirBufs.Put(bp)
		}
	}()
	for {
		if bp != nil {
			dirBufs.Put(bp)
		}
		bp = getDirBuf(size)
		buf := *bp
		n, err := getdents(fd, buf)
		if err != nil {
			return false, &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if len(buf)-n < maxDirent && size < maxSnapshotBuf {
			// Possibly stopped because the buffer was full: start over
			// with a bigger one.
			size *= 4
			if _, err := syscall.Seek(fd, 0, 0); err != nil {
				return false, &fs.PathError{Op: "seek", Path: dir, Err: err}
			}
			continue
		}
		if hint != nil {
			hint(countDirents(buf[:n]))
		}
		eachDirent(buf[:n], fn)
		atomic = true
		// The kernel stops early only at the end of the directory on
		// local file systems; FUSE and network file systems may return
		// less. Read on until the end: anything more means the listing
		// was not taken in one piece.
		for {
			m, err := getdents(fd, buf)
			if err != nil {
				return false, &fs.PathError{Op: "getdents", Path: dir, Err: err}
			}
			if m == 0 {
				return atomic, nil
			}
			atomic = false
			eachDirent(buf[:m], fn)
		}
	}
}

// dirBufs keeps the buffers scanDir reads directories into: a folder
// of tens of thousands of messages needs megabytes, which a fresh
// allocation would fault in page by page inside getdents at every read.
var dirBufs sync.Pool

// getDirBuf returns a buffer of size bytes from dirBufs (or a new one);
// the caller puts it back.
func getDirBuf(size int) *[]byte {
	if bp, ok := dirBufs.Get().(*[]byte); ok {
		if cap(*bp) >= size {
			*bp = (*bp)[:size]
			return bp
		}
	}
	b := make([]byte, size)
	return &b
}

// countDirents returns the number of linux_dirent64 records in buf.
func countDirents(buf []byte) int {
	n := 0
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		n++
		buf = buf[reclen:]
	}
	return n
}

// eachDirent calls fn with the name of each linux_dirent64 record in buf
// other than "." and "..", and its d_type and d_ino.
func eachDirent(buf []byte, fn func(name []byte, d dirent)) {
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			break
		}
		name := buf[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if dot := len(name) <= 2 && len(name) > 0 && name[0] == '.' && name[len(name)-1] == '.'; !dot {
			fn(name, dirent{typ: buf[18], ino: binary.NativeEndian.Uint64(buf[0:8])})
		}
		buf = buf[reclen:]
	}
}

// dirStatter stats files by name relative to an open directory: one
// fstatat each, no path walked from the root and nothing allocated.
type dirStatter struct {
	fd    int
	st    unix.Stat_t
	cname []byte // the name, NUL-terminated
}

func openDirStatter(dir string) (*dirStatter, error) {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &dirStatter{fd: fd}, nil
}

func (d *dirStatter) Close() { syscall.Close(d.fd) }

// stat returns the size, mtime and inode number of the regular file
// name; ok is false when it is gone or not a regular file.
func (d *dirStatter) stat(name string) (size int64, mtime time.Time, ino uint64, ok bool) {
	return statIn(d, name)
}

// statIn is dirStatter.stat for a name of either type (no string made
// of a []byte).
func statIn[N string | []byte](d *dirStatter, name N) (size int64, mtime time.Time, ino uint64, ok bool) {
	d.cname = append(append(d.cname[:0], name...), 0)
	for {
		err := fstatat(d.fd, d.cname, &d.st)
		if err == unix.EINTR {
			continue
		}
		if err != nil || d.st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, time.Time{}, 0, false
		}
		return d.st.Size, time.Unix(d.st.Mtim.Unix()), d.st.Ino, true
	}
}
