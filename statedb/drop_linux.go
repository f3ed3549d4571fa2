package statedb

import (
	"golang.org/x/sys/unix"

	bolt "go.etcd.io/bbolt"
)

// dropPages lets go of the pages of the state file that the process has
// mapped in (bbolt maps the whole file, read-only and shared): they stay
// in the page cache, and a later read maps them again. Called inside a
// read transaction that walked all of a folder's pairs (Load,
// PairSummaries), so that a run's resident memory holds one folder's
// pages at a time, not every page the run ever read (60,000 pairs:
// 15-20 MB). The few pages a commit or a read by UID goes through are
// left: mapping them in again after each would cost more time (a page
// fault is tens of microseconds on a VM) than they take. The transaction keeps
// bbolt from remapping the file meanwhile, so the range is bbolt's
// mapping. Errors are ignored: the pages then stay mapped, nothing else.
func dropPages(db *bolt.DB, tx *bolt.Tx) {
	size := tx.Size()
	if size <= 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, db.Info().Data, uintptr(size), unix.MADV_DONTNEED)
}
