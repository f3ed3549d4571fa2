package statedb

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mailsync/mailsync/model"
)

const benchPairs = 60000

// benchDB opens a state holding one folder of 60,000 pairs.
func benchDB(b *testing.B) *DB {
	b.Helper()
	d, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	if err := d.Commit("INBOX", model.StateChange{Meta: &model.Meta{UIDValidity: 1, UIDNext: benchPairs + 1}, PutPairs: benchPairList(benchPairs, model.FlagSeen)}); err != nil {
		b.Fatal(err)
	}
	return d
}

func benchPairList(n int, f model.Flags) []model.Pair {
	ps := make([]model.Pair, n)
	for i := range ps {
		// As a sync records them: the content fields of the file too.
		ps[i] = model.Pair{UID: model.UID(i + 1), Key: fmt.Sprintf("1700000000.M%dP1Q%d.host,S=%d", i, i, 4000+i), Flags: f,
			Size: int64(4000 + i), ModTime: 1700000000_000000000 + int64(i), Ino: uint64(1000000 + i),
			Hash: fmt.Sprintf("%064x", i*7919), Fingerprint: fmt.Sprintf("%032x", i*104729)}
	}
	return ps
}

// BenchmarkLoad reads a folder of 60,000 pairs, what every sync of the
// folder does first. Run with
//
//	go test ./statedb -run '^$' -bench . -benchmem
func BenchmarkLoad(b *testing.B) {
	d := benchDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := d.Load("INBOX")
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Pairs) != benchPairs {
			b.Fatalf("loaded %d pairs, want %d", len(f.Pairs), benchPairs)
		}
	}
}

// BenchmarkCommit writes changes to a folder of 60,000 pairs: 1% of its
// pairs (a delta run), and all of them (an initial run of that folder).
// BenchmarkPairSummaries and BenchmarkPairKeys are the walks of a quick
// pass over the same pairs as BenchmarkLoad.
func BenchmarkPairSummaries(b *testing.B) {
	benchmarkWalk(b, func(d *DB, count func()) error {
		return d.PairSummaries("INBOX", func([]byte, model.Pair) { count() })
	})
}

// BenchmarkPairKeys: see BenchmarkPairSummaries.
func BenchmarkPairKeys(b *testing.B) {
	benchmarkWalk(b, func(d *DB, count func()) error {
		return d.PairKeys("INBOX", func(model.UID, []byte) { count() })
	})
}

func benchmarkWalk(b *testing.B, walk func(d *DB, count func()) error) {
	d := benchDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := walk(d, func() { n++ }); err != nil {
			b.Fatal(err)
		}
		if n != benchPairs {
			b.Fatalf("walked %d pairs, want %d", n, benchPairs)
		}
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"1pct", benchPairs / 100}, {"all", benchPairs}} {
		b.Run(c.name, func(b *testing.B) {
			d := benchDB(b)
			lists := [2][]model.Pair{benchPairList(benchPairs, model.FlagSeen|model.FlagFlagged), benchPairList(benchPairs, model.FlagSeen)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				all := lists[i%2]
				step := benchPairs / c.n
				ch := model.StateChange{Meta: &model.Meta{UIDValidity: 1, UIDNext: model.UID(benchPairs + 1 + i)}}
				for j := 0; j < c.n; j++ {
					ch.PutPairs = append(ch.PutPairs, all[j*step])
				}
				if err := d.Commit("INBOX", ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
