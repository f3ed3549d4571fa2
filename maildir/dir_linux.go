//go:build linux

package maildir

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
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
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	size := 64 << 10
	for {
		buf := make([]byte, size)
		n, err := getdents(fd, buf)
		if err != nil {
			return nil, false, &fs.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if len(buf)-n < maxDirent && size < maxSnapshotBuf {
			// Possibly stopped because the buffer was full: start over
			// with a bigger one.
			size *= 4
			if _, err := syscall.Seek(fd, 0, 0); err != nil {
				return nil, false, &fs.PathError{Op: "seek", Path: dir, Err: err}
			}
			continue
		}
		names = parseDirents(buf[:n], nil)
		atomic = true
		// The kernel stops early only at the end of the directory on
		// local file systems; FUSE and network file systems may return
		// less. Read on until the end: anything more means the listing
		// was not taken in one piece.
		for {
			m, err := getdents(fd, buf)
			if err != nil {
				return nil, false, &fs.PathError{Op: "getdents", Path: dir, Err: err}
			}
			if m == 0 {
				return names, atomic, nil
			}
			atomic = false
			names = parseDirents(buf[:m], names)
		}
	}
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

// parseDirents appends the names of the linux_dirent64 records in buf.
func parseDirents(buf []byte, names []string) []string {
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
		if s := string(name); s != "." && s != ".." {
			names = append(names, s)
		}
		buf = buf[reclen:]
	}
	return names
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
