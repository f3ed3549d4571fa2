//go:build unix

package maildir

import "syscall"

// processGone reports whether no process pid runs on this host.
func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
