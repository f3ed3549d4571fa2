package sync

import (
	"context"
	gosync "sync"
	"testing"
	"time"
)

// TestFolderQueueLargestFirst: workers get the folders with the most
// messages first (a large folder started last makes the whole run
// wait for it), in the order put among equals.
func TestFolderQueueLargestFirst(t *testing.T) {
	q := newFolderQueue(context.Background())
	for _, x := range []queued{{name: "small", size: 10}, {name: "unknown"}, {name: "big", size: 25000}, {name: "mid", size: 700}, {name: "unknown2"}} {
		q.put(x.name, x.size)
	}
	q.close()
	var got []string
	for {
		name, ok := q.take(false)
		if !ok {
			break
		}
		got = append(got, name)
	}
	want := []string{"big", "mid", "small", "unknown", "unknown2"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestFolderQueueHeldFolderIsTaken: a folder held by a worker still
// opening its connection goes to a connected worker that runs out of
// work; the holder, once connected, takes what is left (nothing here)
// and stops. A folder given back by a worker that could not connect
// goes to the others; one held and released unstarted goes back too.
func TestFolderQueueHeldFolderIsTaken(t *testing.T) {
	q := newFolderQueue(context.Background())
	q.put("INBOX", 100)
	held, ok := q.take(true)
	if !ok || held != "INBOX" {
		t.Fatalf("hold: %q %v", held, ok)
	}
	q.close()
	if _, ok := q.take(true); ok {
		t.Fatal("a second worker held the only folder too (it would dial for nothing)")
	}
	if name, ok := q.take(false); !ok || name != "INBOX" {
		t.Fatalf("connected worker: %q %v, want the held INBOX", name, ok)
	}
	// The connected worker waits for the holder (it could give its
	// folder back), then stops with it.
	done := make(chan bool)
	go func() {
		_, ok := q.take(false)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("take returned while a worker still held a folder")
	case <-time.After(50 * time.Millisecond):
	}
	q.release(held)
	if <-done {
		t.Fatal("a folder was taken twice")
	}
	if _, ok := q.take(false); ok {
		t.Fatal("the holder found its folder again")
	}

	// Given back: for the others.
	q = newFolderQueue(context.Background())
	q.put("Sent", 5)
	name, _ := q.take(true)
	q.release(name)
	q.close()
	if name, ok := q.take(false); !ok || name != "Sent" {
		t.Fatalf("given back: %q %v", name, ok)
	}

	// Many workers, many folders: each folder exactly once.
	q = newFolderQueue(context.Background())
	var mu gosync.Mutex
	seen := map[string]int{}
	drain := func() {
		for {
			name, ok := q.take(false)
			if !ok {
				return
			}
			mu.Lock()
			seen[name]++
			mu.Unlock()
		}
	}
	var wg gosync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, ok := q.take(true)
			if !ok {
				return
			}
			q.release(name)
			drain()
		}()
	}
	for i := 0; i < 200; i++ {
		q.put(string(rune('A'+i%26))+string(rune('a'+i/26)), uint32(i%7))
	}
	q.close()
	drain()
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("%d folders synced, want 200", len(seen))
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("%s taken %d times", name, n)
		}
	}
}
