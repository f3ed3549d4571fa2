package maildir

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// fstatat is unix.Fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) for a name
// given NUL-terminated in a reused buffer: unix.Fstatat allocates one
// per call, which a stat of every file of a large folder notices.
func fstatat(fd int, cname []byte, st *unix.Stat_t) error {
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(fd), uintptr(unsafe.Pointer(&cname[0])),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
