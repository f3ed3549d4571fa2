package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScan lists a folder of 60,000 messages (90% in cur/ with
// flags, 10% in new/) with Scan (a stat per file) and with List (names
// only, what every sync does before planning). Run with
//
//	go test ./maildir -run '^$' -bench 'Scan|List' -benchmem
func BenchmarkScan(b *testing.B) { benchmarkListing(b, (*Folder).Scan, 60000) }

// BenchmarkList: see BenchmarkScan.
func BenchmarkList(b *testing.B) { benchmarkListing(b, (*Folder).List, 60000) }

// BenchmarkListSome is the listing of a quick pass over a folder changed
// in the Maildir: every file stat'ed, 1% kept.
func BenchmarkListSome(b *testing.B) {
	i := 0
	benchmarkListing(b, func(f *Folder) ([]Entry, error) {
		return f.ListSome(func() { i = 0 }, func(v *FileView) bool {
			i++
			v.Stat()
			return i%100 == 0
		})
	}, 600)
}

func benchmarkListing(b *testing.B, list func(*Folder) ([]Entry, error), want int) {
	const n = 60000
	m, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	f, err := m.CreateFolder("Archive")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("From: a@example.org\r\nSubject: x\r\n\r\nhello\r\n")
	for i := 0; i < n; i++ {
		name := filepath.Join(f.Path(), "cur", fmt.Sprintf("1700000000.M%dP1Q%d.host,S=%d:2,S", i, i, len(body)))
		if i%10 == 0 {
			name = filepath.Join(f.Path(), "new", fmt.Sprintf("1700000000.M%dP1Q%d.host", i, i))
		}
		if err := os.WriteFile(name, body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, err := list(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) != want {
			b.Fatalf("scan found %d messages, want %d", len(es), want)
		}
	}
}
