package sync

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// TestPairTable: every pair is found by its key, across chunks of keys,
// with its keywords; keys of no pair are not found; two pairs of one key,
// or a key longer than a file name, mark the table for a whole pass.
func TestPairTable(t *testing.T) {
	var tab pairTable
	const n = 20000 // keys of about 60 bytes: several chunks
	tab.grow(n)
	for i := 1; i <= n; i++ {
		p := model.Pair{UID: model.UID(i), Flags: model.Flags(i % 64), Size: int64(i), ModTime: int64(-i), Ino: uint64(i * 3)}
		if i%1000 == 0 {
			p.Keywords = model.Keywords{fmt.Sprintf("$k%d", i)}
		}
		tab.add([]byte(fmt.Sprintf("1700000000.M%dP%d.host.example.org,S=%d", i, i*7, i)), p)
	}
	tab.index()
	if tab.dupKey || len(tab.keys) < 2 {
		t.Fatalf("dupKey %v, %d chunks", tab.dupKey, len(tab.keys))
	}
	for i := 1; i <= n; i++ {
		e := tab.find([]byte(fmt.Sprintf("1700000000.M%dP%d.host.example.org,S=%d", i, i*7, i)))
		if e == nil || e.uid != model.UID(i) {
			t.Fatalf("key %d: %+v", i, e)
		}
		p := tab.pair(e)
		if p.Size != int64(i) || p.ModTime != int64(-i) || p.Ino != uint64(i*3) || p.Flags != model.Flags(i%64) ||
			(i%1000 == 0) != (len(p.Keywords) == 1) || i%1000 == 0 && p.Keywords[0] != fmt.Sprintf("$k%d", i) {
			t.Fatalf("pair %d: %+v", i, p)
		}
	}
	for _, k := range []string{"", "1700000000.M1P7.host.example.org,S=2", "x"} {
		if e := tab.find([]byte(k)); e != nil {
			t.Errorf("%q found: %+v", k, e)
		}
	}
	if got := tab.uids(); len(got) != n || got[0] != 1 || got[n-1] != n {
		t.Errorf("uids: %d, first %d", len(got), got[0])
	}

	// Used again, for a smaller folder: only its pairs are found.
	chunks := len(tab.keys)
	tab.reset()
	tab.add([]byte("small"), model.Pair{UID: 7, Keywords: model.Keywords{"$x"}})
	tab.index()
	if e := tab.find([]byte("small")); e == nil || e.uid != 7 || tab.pair(e).Keywords[0] != "$x" || tab.dupKey {
		t.Fatalf("after reset: %+v", e)
	}
	if e := tab.find([]byte("1700000000.M1P7.host.example.org,S=1")); e != nil || len(tab.spare) != chunks-1 || len(tab.ents) != 1 {
		t.Fatalf("after reset, an old key: %+v; %d spare chunks of %d", e, len(tab.spare), chunks)
	}

	var dup pairTable
	dup.add([]byte("a"), model.Pair{UID: 1})
	dup.add([]byte("a"), model.Pair{UID: 2})
	dup.index()
	var long pairTable
	long.add([]byte(strings.Repeat("k", 256)), model.Pair{UID: 1})
	long.index()
	if !dup.dupKey || !long.dupKey {
		t.Errorf("two pairs of one key: %v; a 256-byte key: %v", dup.dupKey, long.dupKey)
	}
}
