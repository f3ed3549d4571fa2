package migrate

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/dovecottest"
)

// TestMigrateBigMessageIsStreamed (issue 11: memory flat in message
// size): a 50 MB message goes from one Dovecot to another with the Go
// heap growing by far less than the message (streamed from FETCH to
// APPEND), byte for byte, with its flags and date, beside small ones.
func TestMigrateBigMessageIsStreamed(t *testing.T) {
	from := dovecottest.Start(t, nil)
	to := dovecottest.Start(t, nil)
	var b bytes.Buffer
	b.WriteString("From: a@example.org\nSubject: big\nMessage-ID: <big@example.org>\n\n")
	for i := 0; b.Len() < 50<<20; i++ {
		fmt.Fprintf(&b, "%08d %s\n", i, strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 2))
	}
	put(t, from, "INBOX", b.String(), day, `\Seen`, "$Label1")
	b = bytes.Buffer{}
	for i := 0; i < 5; i++ {
		put(t, from, "INBOX", msg(i, "small"), day.Add(time.Duration(i)*time.Hour))
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	rep, err := Run(context.Background(), options(from, to))
	close(done)
	<-sampled
	t.Logf("heap growth during the migration: %.1f MiB", float64(peak.Load())/(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copied != 6 {
		t.Errorf("copied %d messages, want 6", rep.Copied)
	}
	if peak.Load() > 16<<20 {
		t.Errorf("heap grew by %.1f MiB while copying a 50 MB message, want at most 16 MiB", float64(peak.Load())/(1<<20))
	}
	if want, got := signature(t, from, "INBOX"), signature(t, to, "INBOX"); !slices.Equal(want, got) {
		t.Errorf("INBOX differs:\nFROM %q\nTO   %q", want, got)
	}
}
