//go:build linux && !amd64

package maildir

import "golang.org/x/sys/unix"

// fstatat is unix.Fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) for a name
// given NUL-terminated (see the amd64 version).
func fstatat(fd int, cname []byte, st *unix.Stat_t) error {
	return unix.Fstatat(fd, string(cname[:len(cname)-1]), st, unix.AT_SYMLINK_NOFOLLOW)
}
