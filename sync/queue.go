package sync

import (
	"context"
	gosync "sync"
)

// folderQueue hands the folders to sync to the workers as they become
// known (skipUnchanged finds them while the server answers STATUS).
type folderQueue struct {
	ctx    context.Context
	mu     gosync.Mutex
	cond   *gosync.Cond
	names  []string
	closed bool
	held   int // first folders taken by workers still opening their connection
	count  int
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

// put adds a folder to sync.
func (q *folderQueue) put(name string) {
	q.mu.Lock()
	q.names = append(q.names, name)
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

// take returns the next folder, waiting for one; false once the queue is
// closed and empty, with no folder held (which could be given back), or
// the context is done. hold: the caller has yet to open its connection,
// and calls started or giveBack next.
func (q *folderQueue) take(hold bool) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.names) == 0 && (!q.closed || q.held > 0) && q.ctx.Err() == nil {
		q.cond.Wait()
	}
	if len(q.names) == 0 || q.ctx.Err() != nil {
		return "", false
	}
	name := q.names[0]
	q.names = q.names[1:]
	if hold {
		q.held++
	}
	return name, true
}

// started says a worker that held its first folder opened its
// connection: it syncs the folder.
func (q *folderQueue) started() {
	q.mu.Lock()
	q.held--
	q.cond.Broadcast()
	q.mu.Unlock()
}

// giveBack returns the first folder of a worker that could not open its
// connection, for another worker.
func (q *folderQueue) giveBack(name string) {
	q.mu.Lock()
	q.names = append([]string{name}, q.names...)
	q.held--
	q.cond.Broadcast()
	q.mu.Unlock()
}

// total is the number of folders put.
func (q *folderQueue) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}
