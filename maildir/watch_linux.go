//go:build linux

package maildir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Watching a folder while this process changes it (Watch, Unchanged).
// After a sync changed a folder, Unchanged must learn that nobody else
// changed it meanwhile before the engine records its directories'
// mtimes: reading both directories again costs a getdents of every
// name (tens of milliseconds in a folder of tens of thousands of
// messages). Instead, an inotify watch on new/ and cur/ reports every
// name created, renamed or removed there, by anyone; each of this
// Folder's own renames, deliveries and removals is expected as an event
// (watch.expect), and when every event is one of those, the folder is
// what the listing found plus this Folder's own changes.
//
// The kernel queues a rename's or unlink's event while it still holds
// the directory's lock, after it set the mtime: drain takes that lock
// first (a getdents on each directory), so that a change whose mtime a
// caller already read is in the queue when it is drained. A file
// created in new/ or cur/ with open(O_CREAT), which Maildir writers do
// not do, may be queued after the lock is released; such a file is
// still found by the next full listing (editCheckDue in the sync
// engine).
//
// inotify sees only the changes made through this kernel: on a network
// or FUSE file system another machine's change would go unseen, so a
// folder there is never watched (localFS), and Unchanged reads it.

// watch is an inotify instance on a folder's new/ and cur/.
type watch struct {
	fd      int
	wd      [2]int32 // new/, cur/
	want    map[watchEvent]int
	broken  bool // an event that is not one of ours, or the queue overflowed
	pending int  // changes noted since the queue was last read
	buf     []byte
	listed  bool // the folder was listed while watched (setIndex)
}

// watchEvent is a name appearing in (in) or leaving (!in) new/ (dir 0)
// or cur/ (dir 1).
type watchEvent struct {
	dir  uint8
	in   bool
	name string
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// localFS lists the file systems whose changes all pass through this
// kernel's VFS (statfs f_type).
var localFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true, // ext2, ext3 and ext4
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
	unix.TMPFS_MAGIC:       true,
	unix.F2FS_SUPER_MAGIC:  true,
}

// startWatch watches new/ and cur/ of the folder at path; nil when it
// cannot (no inotify instance left, a file system it cannot trust).
func startWatch(path string) *watch {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil || !localFS[int64(st.Type)] {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &watch{fd: fd, want: map[watchEvent]int{}}
	for i, d := range [...]string{"new", "cur"} {
		wd, err := unix.InotifyAddWatch(fd, filepath.Join(path, d), watchMask)
		if err != nil {
			unix.Close(fd)
			return nil
		}
		w.wd[i] = int32(wd)
	}
	return w
}

// expect notes one of our own changes: name appeared in (in) or left
// dir ("new" or "cur"). Its event is queued by then (the kernel queues
// it before the rename, link or unlink returns): every expectBatch
// changes, the queue is read and matched, so that a pass that delivers
// tens of thousands of messages neither holds all their names nor
// overflows the queue (fs.inotify.max_queued_events, 16384 by default).
func (w *watch) expect(dir string, in bool, name string) {
	if w.broken {
		return
	}
	w.want[watchEvent{dirIndex(dir), in, name}]++
	if w.pending++; w.pending >= expectBatch {
		w.pending = 0
		w.read()
	}
}

// expectBatch is how many changes of our own are noted before the queue
// is read.
const expectBatch = 256

func dirIndex(dir string) uint8 {
	if dir == "cur" {
		return 1
	}
	return 0
}

// drain reads the events queued so far (after taking each directory's
// lock, see above) and matches them with the changes expected. It
// reports whether every event was one of ours and every one of ours was
// seen.
func (w *watch) drain(path string) bool {
	for _, d := range [...]string{"new", "cur"} {
		if !lockBarrier(filepath.Join(path, d)) {
			return false
		}
	}
	w.read()
	return !w.broken && len(w.want) == 0
}

// read matches the events queued so far.
func (w *watch) read() {
	if w.buf == nil {
		w.buf = make([]byte, 64<<10)
	}
	for !w.broken {
		n, err := unix.Read(w.fd, w.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil || n <= 0 {
			w.broken = true
			break
		}
		w.events(w.buf[:n])
	}
	if w.broken {
		w.want = nil // no longer needed: Unchanged reads the directories
	}
}

// events matches a buffer of inotify_event records.
func (w *watch) events(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent && !w.broken {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		nlen := int(binary.NativeEndian.Uint32(b[12:16]))
		if unix.SizeofInotifyEvent+nlen > len(b) {
			w.broken = true
			return
		}
		name := b[unix.SizeofInotifyEvent : unix.SizeofInotifyEvent+nlen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[unix.SizeofInotifyEvent+nlen:]
		var dir uint8
		switch wd {
		case w.wd[0]:
			dir = 0
		case w.wd[1]:
			dir = 1
		default:
			w.broken = true // IN_Q_OVERFLOW (wd -1), or a watch we do not know
			return
		}
		if mask&(unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) == 0 || mask&unix.IN_ISDIR != 0 {
			w.broken = true // the directory itself removed, moved or unmounted; a subdirectory
			return
		}
		ev := watchEvent{dir, mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0, string(name)}
		if w.want[ev] == 0 {
			w.broken = true
			return
		}
		if w.want[ev]--; w.want[ev] == 0 {
			delete(w.want, ev)
		}
	}
}

// lockBarrier reads a little of directory dir: getdents takes the
// directory's lock, so a rename, link or unlink under way there has
// queued its event when it returns.
func lockBarrier(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [4096]byte
	_, err = getdents(fd, buf[:])
	return err == nil
}

func (w *watch) close() { unix.Close(w.fd) }
