package plan

import (
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
)

func TestSkip(t *testing.T) {
	const newM, curM = 1_763_900_000_123_456_789, 1_763_900_001_987_654_321
	st := model.FolderStatus{UIDValidity: 7, UIDNext: 101, Messages: 100, HighestModSeq: 555}
	rec := SkipRecord{UIDValidity: 7, UIDNext: 101, Messages: 100, HighestModSeq: 555, NewMtime: newM, CurMtime: curM}
	base := SkipInput{CondStore: true, Status: st, HaveStatus: true, NewMtime: newM, CurMtime: curM, Recorded: rec}
	tests := []struct {
		name string
		edit func(in *SkipInput)
		want SkipReason
	}{
		{"unchanged", func(*SkipInput) {}, SkipOK},
		// Without CONDSTORE a flag change on the server is invisible.
		{"no condstore", func(in *SkipInput) { in.CondStore = false }, SkipNoCondStore},
		{"no status answer", func(in *SkipInput) { in.HaveStatus = false }, SkipNoStatus},
		{"pending work", func(in *SkipInput) { in.Pending = true }, SkipPending},
		{"never recorded", func(in *SkipInput) { in.Recorded = SkipRecord{} }, SkipNoRecord},
		{"recorded without modseq", func(in *SkipInput) { in.Recorded.HighestModSeq = 0; in.Status.HighestModSeq = 0 }, SkipNoRecord},
		{"recorded mtime untrusted", func(in *SkipInput) { in.Recorded.CurMtime = 0 }, SkipNoRecord},
		{"flag change on the server", func(in *SkipInput) { in.Status.HighestModSeq++ }, SkipServerChanged},
		{"new mail on the server", func(in *SkipInput) { in.Status.UIDNext++; in.Status.Messages++ }, SkipServerChanged},
		{"expunge on the server", func(in *SkipInput) { in.Status.Messages-- }, SkipServerChanged},
		{"uidvalidity changed", func(in *SkipInput) { in.Status.UIDValidity++ }, SkipServerChanged},
		{"delivery into new/", func(in *SkipInput) { in.NewMtime += 4_000_000 }, SkipMaildirChanged},
		{"rename in cur/ (a flag change)", func(in *SkipInput) { in.CurMtime += 1 }, SkipMaildirChanged},
		{"cur/ gone", func(in *SkipInput) { in.CurMtime = 0 }, SkipMaildirNoMtimes},
		// Every folder is listed in full now and then (a file rewritten
		// in place moves no directory mtime).
		{"record within MaxAge", func(in *SkipInput) { in.Recorded.Listed = 1000; in.Now = 1000 + 3600e9; in.MaxAge = 3600e9 }, SkipOK},
		{"record older than MaxAge", func(in *SkipInput) { in.Recorded.Listed = 1000; in.Now = 1001 + 3600e9; in.MaxAge = 3600e9 }, SkipStale},
		{"record from before Listed existed", func(in *SkipInput) { in.Now = 3600e9 + 1; in.MaxAge = 3600e9 }, SkipStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.edit(&in)
			if got := Skip(in); got != tt.want {
				t.Fatalf("Skip = %q, want %q", got, tt.want)
			}
			// A STATUS is asked exactly when it could make the
			// folder skipped: every reason but the server's own is
			// known without it.
			serverSays := tt.want == SkipOK || tt.want == SkipServerChanged || tt.want == SkipNoStatus
			if got := MaySkip(in); got != serverSays {
				t.Fatalf("MaySkip = %v, want %v", got, serverSays)
			}
		})
	}
}

func TestTrustedMtime(t *testing.T) {
	const sec = int64(time.Second)
	fine := 1_763_900_000*sec + 123_456_789
	coarse := 1_763_900_000 * sec
	tests := []struct {
		name      string
		m, readAt int64
		want      int64
	}{
		{"fine, old", fine, fine + int64(time.Minute), fine},
		{"fine, within the margin", fine, fine + int64(FineMtimeMargin) - 1, 0},
		{"fine, just past the margin", fine, fine + int64(FineMtimeMargin), fine},
		// A whole second may be a 1- or 2-second file system.
		{"coarse, 1 s old", coarse, coarse + sec, 0},
		{"coarse, 2 s old", coarse, coarse + 2*sec, coarse},
		{"in the future (clock stepped back)", fine, fine - sec, 0},
		{"missing", 0, fine, 0},
	}
	for _, tt := range tests {
		if got := TrustedMtime(tt.m, tt.readAt); got != tt.want {
			t.Errorf("%s: TrustedMtime = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRecordSkip(t *testing.T) {
	const m1, m2 = 1_763_900_000_123_456_789, 1_763_900_001_987_654_321
	readAt := int64(m2 + int64(time.Second))
	st := model.FolderStatus{UIDValidity: 7, UIDNext: 101, Messages: 100, HighestModSeq: 555}
	full := SkipRecord{UIDValidity: 7, UIDNext: 101, Messages: 100, HighestModSeq: 555, NewMtime: m1, CurMtime: m2, Listed: readAt}
	tests := []struct {
		name          string
		condStore     bool
		status        model.FolderStatus
		serverChanged bool
		pre, post     [2]int64
		readAt        int64
		want          SkipRecord
	}{
		{"in step", true, st, false, [2]int64{m1, m2}, [2]int64{m1, m2}, readAt, full},
		{"no condstore", false, st, false, [2]int64{m1, m2}, [2]int64{m1, m2}, readAt, SkipRecord{}},
		{"nomodseq folder", true, model.FolderStatus{UIDValidity: 7, UIDNext: 101, Messages: 100}, false, [2]int64{m1, m2}, [2]int64{m1, m2}, readAt, SkipRecord{}},
		// Our own STOREs moved HIGHESTMODSEQ on after the SELECT.
		{"the pass changed the server", true, st, true, [2]int64{m1, m2}, [2]int64{m1, m2}, readAt, SkipRecord{}},
		// Someone (or the pass) changed cur/ after it was listed.
		{"cur changed since listed", true, st, false, [2]int64{m1, m2}, [2]int64{m1, m2 + 5}, readAt, SkipRecord{}},
		// A change in the same tick after the listing would be missed.
		{"cur too fresh", true, st, false, [2]int64{m1, m2}, [2]int64{m1, m2}, m2 + 1000, SkipRecord{}},
	}
	for _, tt := range tests {
		if got := RecordSkip(tt.condStore, tt.status, tt.serverChanged, tt.pre, tt.readAt, tt.post); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
