package plan

import (
	"fmt"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// benchPairs is the size of the folder the planner benchmarks plan: a
// large mailbox, where a no-op run must still cost little.
const benchPairs = 60000

// benchInput is a folder of n synced pairs and both listings, with
// changes on pct percent of the messages, split in four: flags changed on
// the server, flags changed locally, new on the server, new locally.
func benchInput(n int, pct float64) *Input {
	st := &model.FolderState{Name: "INBOX", UIDValidity: 1, UIDNext: model.UID(n + 1)}
	in := &Input{Folder: "INBOX", State: st, UIDValidity: 1}
	for i := 1; i <= n; i++ {
		uid, key, f := model.UID(i), fmt.Sprintf("1700000000.M%dP1Q%d.host", i, i), model.FlagSeen
		st.Pairs = append(st.Pairs, model.Pair{UID: uid, Key: key, Flags: f})
		in.Remote = append(in.Remote, model.RemoteMsg{UID: uid, Flags: f, Size: 4096})
		in.Local = append(in.Local, model.LocalMsg{Key: key, Flags: f})
	}
	k := int(float64(n) * pct / 400)
	for j := 0; j < k; j++ {
		step := n / k
		in.Remote[j*step].Flags |= model.FlagFlagged
		in.Local[j*step+step/2].Flags &^= model.FlagSeen
		in.Remote = append(in.Remote, model.RemoteMsg{UID: model.UID(n + 1 + j), Size: 4096})
		in.Local = append(in.Local, model.LocalMsg{Key: fmt.Sprintf("1700000001.M%dP2Q%d.host", j, j)})
	}
	return in
}

// BenchmarkBuild plans a folder of 60,000 pairs with nothing changed and
// with 1% changed. Run with
//
//	go test ./sync/plan -run '^$' -bench Build -benchmem
func BenchmarkBuild(b *testing.B) {
	for _, c := range []struct {
		name string
		pct  float64
	}{{"noop", 0}, {"1pct", 1}} {
		b.Run(fmt.Sprintf("pairs=%d/%s", benchPairs, c.name), func(b *testing.B) {
			in := benchInput(benchPairs, c.pct)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := Build(in)
				if err != nil {
					b.Fatal(err)
				}
				if c.pct == 0 && !p.Empty() {
					b.Fatalf("no-op input gave a plan: %+v", p)
				}
			}
		})
	}
}

// BenchmarkMerge builds the CONDSTORE listing of a folder of 60,000 pairs
// from the stored pairs, 1% of messages reported changed and the server's
// UIDs.
func BenchmarkMerge(b *testing.B) {
	in := benchInput(benchPairs, 0)
	uids := make([]model.UID, 0, benchPairs)
	var changed []model.RemoteMsg
	for i, r := range in.Remote {
		uids = append(uids, r.UID)
		if i%100 == 0 {
			changed = append(changed, model.RemoteMsg{UID: r.UID, Flags: model.FlagFlagged})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := Merge(in.State, changed, uids); !ok {
			b.Fatal("merge: a UID is unknown")
		}
	}
}
