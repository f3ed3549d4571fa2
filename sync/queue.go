package sync

import (
	"context"
	gosync "sync"
)

// folderQueue hands the folders to sync to the workers as they become
// known (skipUnchanged finds them while the server answers STATUS),
// the largest first: a large folder costs the server a long SELECT
// and the client a long listing, so it should not start last.
//
// A worker without a connection yet holds a folder while it dials
// (take(true)): it dials only when there is work for it, so a run with
// nothing to do logs in once. A held folder is not reserved: a worker
// with a connection that runs out of work takes it (the first
// connection, free after the STATUS answers, does not wait for a
// second login to finish before the changed folder is synced). Once
// connected, the holder gives its hold up (release) and takes the next
// folder like any worker.
type folderQueue struct {
	ctx    context.Context
	mu     gosync.Mutex
	cond   *gosync.Cond
	todo   []queued // not started: free or held
	closed bool
	held   int // holds of workers still opening their connection
	count  int
}

type queued struct {
	name string
	size uint32 // messages, to order the folders (0: unknown)
	held bool
}

func newFolderQueue(ctx context.Context) *folderQueue {
	q := &folderQueue{ctx: ctx}
	q.cond = gosync.NewCond(&q.mu)
	context.AfterFunc(ctx, q.wake)
	return q
}

func (q *folderQueue) wake() {
	q.mu.Lock()
	q.cond.Broadcast()
	q.mu.Unlock()
}

// put adds a folder of size messages (0: not known) to sync.
func (q *folderQueue) put(name string, size uint32) {
	q.mu.Lock()
	q.todo = append(q.todo, queued{name: name, size: size})
	q.count++
	q.cond.Broadcast()
	q.mu.Unlock()
}

// close says no folder will be put any more.
func (q *folderQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// largest returns the index in todo of the largest folder (the first
// put among equals) that is free, or held too when any is set; -1 when
// there is none.
func (q *folderQueue) largest(any bool) int {
	best := -1
	for i, x := range q.todo {
		if (any || !x.held) && (best < 0 || x.size > q.todo[best].size) {
			best = i
		}
	}
	return best
}

// take returns the next folder, waiting for one. A worker with a
// connection (hold false) gets the largest folder not started, held or
// not, and syncs it; false once the queue is closed and nothing is left
// (no folder held either), or the context is done. A worker that has
// yet to open its connection (hold true) gets the largest free folder,
// held for it, and calls release next; false once the queue
// is closed with no free folder.
func (q *folderQueue) take(hold bool) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.ctx.Err() == nil {
		if i := q.largest(!hold); i >= 0 {
			x := q.todo[i]
			if hold {
				q.todo[i].held = true
				q.held++
			} else {
				q.todo = append(q.todo[:i], q.todo[i+1:]...)
			}
			return x.name, true
		}
		if q.closed && (hold || q.held == 0) {
			return "", false
		}
		q.cond.Wait()
	}
	return "", false
}

// release says a worker that held name opened its connection (it then
// takes folders with take(false)) or could not (the folder is for the
// other workers): the hold is freed, unless another worker took the
// folder meanwhile.
func (q *folderQueue) release(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.todo {
		if q.todo[i].name == name && q.todo[i].held {
			q.todo[i].held = false
			break
		}
	}
	q.held--
	q.cond.Broadcast()
}

// total is the number of folders put.
func (q *folderQueue) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}
