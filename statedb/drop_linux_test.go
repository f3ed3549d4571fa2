package statedb

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// rssFileKB is the process's resident file-backed memory (RssFile).
func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// pagesTestState is a state file with n pairs in INBOX, written and
// opened again (nothing of it mapped in yet), closed when the test ends.
func pagesTestState(t *testing.T, n int) (db *DB, path string, pairs []model.Pair) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pairs = make([]model.Pair, n)
	for i := range pairs {
		key := fmt.Sprintf("17000%05d.M%dP%d.host.example.org,S=%d", i, i*7, i*13, 1000+i)
		pairs[i] = model.Pair{UID: model.UID(i + 1), Key: key, Flags: model.FlagSeen, Size: int64(1000 + i), ModTime: int64(i) << 20,
			Ino: uint64(i + 1000), Hash: model.ContentHash([]byte(key)), Fingerprint: model.Fingerprint(int64(i), []byte(key))}
	}
	if err := db.Commit("INBOX", model.StateChange{PutPairs: pairs}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path, pairs
}

// TestReadsLeaveNoPagesMapped: walking a folder's pairs (PairSummaries,
// PairKeys, Load) leaves the state file's pages out of the process's resident
// memory: 40,000 pairs are about 6 MB of pages, which a run would
// otherwise keep mapped in to its end.
func TestReadsLeaveNoPagesMapped(t *testing.T) {
	const n = 40000
	db, _, pairs := pagesTestState(t, n)
	before := rssFileKB(t)
	count := 0
	if err := db.PairSummaries("INBOX", func(key []byte, p model.Pair) { count++ }); err != nil || count != n {
		t.Fatalf("PairSummaries: %d pairs, %v", count, err)
	}
	if grew := rssFileKB(t) - before; grew > 1024 {
		t.Errorf("PairSummaries left %d kB of the state mapped", grew)
	}
	if err := db.PairKeys("INBOX", func(model.UID, []byte) {}); err != nil {
		t.Fatal(err)
	}
	if grew := rssFileKB(t) - before; grew > 1024 {
		t.Errorf("PairKeys left %d kB of the state mapped", grew)
	}
	st, err := db.Load("INBOX")
	if err != nil || len(st.Pairs) != n || !reflect.DeepEqual(st.Pairs[n-1], pairs[n-1]) {
		t.Fatalf("Load: %d pairs, %v", len(st.Pairs), err)
	}
	if grew := rssFileKB(t) - before; grew > 1024 {
		t.Errorf("Load left %d kB of the state mapped", grew)
	}
	// A commit of pairs all over the folder (a batch of flag changes).
	var some []model.Pair
	for i := 0; i < n; i += 40 {
		p := pairs[i]
		p.Flags |= model.FlagFlagged
		some = append(some, p)
	}
	if err := db.Commit("INBOX", model.StateChange{PutPairs: some}); err != nil {
		t.Fatal(err)
	}
	if grew := rssFileKB(t) - before; grew > 1024 {
		t.Errorf("a commit of %d pairs left %d kB of the state mapped", len(some), grew)
	}
}

// mappedKB is how much of the file at path the process has mapped in
// (the Rss of its mappings in /proc/self/smaps: read from the page
// tables, unlike RssFile, which threads update late).
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = f[len(f)-1] == path
			continue
		}
		if in && len(f) >= 2 && f[0] == "Rss:" {
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}

// TestWalksHoldFewPagesMapped: a walk over a folder's pairs lets go of
// the pages it mapped in as it goes (dropEveryPairs), not only at its
// end, so that a run's peak memory holds a slice of the largest folder's
// pages rather than all of them: 40,000 pairs are about 6 MB of pages.
func TestWalksHoldFewPagesMapped(t *testing.T) {
	const n = 40000
	db, path, _ := pagesTestState(t, n)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	peak, count := 0, 0
	if err := db.PairSummaries("INBOX", func(key []byte, p model.Pair) {
		if count++; count%1000 == 0 {
			peak = max(peak, mappedKB(t, path))
		}
	}); err != nil || count != n {
		t.Fatalf("PairSummaries: %d pairs, %v", count, err)
	}
	t.Logf("state file %d kB, at most %d kB of it mapped during the walk", fi.Size()>>10, peak)
	if peak == 0 || peak > 1536 {
		t.Errorf("the walk held up to %d kB of the state mapped (want 1 to 1536 kB)", peak)
	}
}
