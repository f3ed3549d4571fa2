package plan

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"

	"github.com/mailsync/mailsync/model"
)

func TestQuick(t *testing.T) {
	base := func() QuickInput {
		return QuickInput{CondStore: true, FirstPass: true, LocalUntouched: true,
			State:  &model.FolderState{UIDValidity: 7, UIDNext: 10, HighestModSeq: 50},
			Status: model.FolderStatus{UIDValidity: 7, UIDNext: 12, HighestModSeq: 60, Messages: 11}}
	}
	tests := []struct {
		name string
		mod  func(*QuickInput)
		want QuickReason
	}{
		{"only the server changed", func(*QuickInput) {}, QuickOK},
		{"no CONDSTORE", func(in *QuickInput) { in.CondStore = false }, QuickNoCondStore},
		{"a later pass", func(in *QuickInput) { in.FirstPass = false }, QuickLaterPass},
		{"upload intent", func(in *QuickInput) { in.State.Intents = []model.Intent{{Key: "k"}} }, QuickPending},
		{"download intent", func(in *QuickInput) { in.State.Downloads = []model.DownloadIntent{{UID: 3}} }, QuickPending},
		{"held-back deletions", func(in *QuickInput) { in.State.HeldBack = []model.UID{3} }, QuickPending},
		{"flags the server cannot keep", func(in *QuickInput) { in.Status.Unkept = model.FlagFlagged }, QuickUnkept},
		{"flags said unkept", func(in *QuickInput) { in.State.Unkept = model.FlagFlagged }, QuickUnkept},
		{"one-sided keywords", func(in *QuickInput) { in.State.OneSided = model.Keywords{"$x"} }, QuickUnkept},
		{"new UIDVALIDITY", func(in *QuickInput) { in.Status.UIDValidity = 8 }, QuickNoPosition},
		{"never synced", func(in *QuickInput) { in.State = &model.FolderState{} }, QuickNoPosition},
		{"no stored HIGHESTMODSEQ", func(in *QuickInput) { in.State.HighestModSeq = 0 }, QuickNoPosition},
		{"Maildir changed", func(in *QuickInput) { in.LocalUntouched = false }, QuickMaildir},
		{"edit check due", func(in *QuickInput) { in.EditCheck = true }, QuickEditCheck},
	}
	for _, tc := range tests {
		in := base()
		tc.mod(&in)
		if got := Quick(in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestChanges(t *testing.T) {
	pairs := []model.UID{1, 2, 3, 5}
	changed := []model.RemoteMsg{{UID: 6}, {UID: 2, Flags: S}, {UID: 2, Flags: F}}
	// 4 pairs + 1 new = 5 messages: nothing expunged, no UID SEARCH.
	d, need, ok := Changes(pairs, changed, nil, false, 5)
	if need || !ok || !reflect.DeepEqual(d.Load, []model.UID{2}) || len(d.Expunged) != 0 ||
		!reflect.DeepEqual(d.Changed, []model.RemoteMsg{{UID: 2, Flags: F}, {UID: 6}}) {
		t.Fatalf("no expunge: %+v %v %v", d, need, ok)
	}
	// 4 messages: something was expunged; the UIDs are needed.
	if _, need, ok := Changes(pairs, changed, nil, false, 4); !need || ok {
		t.Fatalf("counts disagree: need %v ok %v", need, ok)
	}
	d, need, ok = Changes(pairs, changed, []model.UID{6, 1, 2}, true, 3)
	if need || !ok || !reflect.DeepEqual(d.Expunged, []model.UID{3, 5}) || !reflect.DeepEqual(d.Load, []model.UID{2, 3, 5}) {
		t.Fatalf("expunged: %+v %v %v", d, need, ok)
	}
	// A UID neither paired nor reported (an earlier run's unpaired
	// message): a whole pass.
	if _, _, ok := Changes(pairs, changed, []model.UID{1, 2, 3, 4, 5, 6}, true, 6); ok {
		t.Fatal("an unknown UID gave a quick pass")
	}
}

// TestQuickPlanIsTheWholePlan: for a folder in step whose server side
// changed (flags, keywords, new messages, expunges, under every policy),
// the plan of a quick pass, over the changed messages alone, is the plan
// of a whole pass.
func TestQuickPlanIsTheWholePlan(t *testing.T) {
	policies := []Policy{{}, {Direction: Pull}, {Direction: Push}, {Deletions: Keep}, {Restore: true}}
	for seed := int64(0); seed < 400; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 1 + rng.Intn(40)
		st := &model.FolderState{UIDValidity: 1, UIDNext: model.UID(n + 1), HighestModSeq: 100}
		var local []model.LocalMsg
		var remote []model.RemoteMsg
		var changed []model.RemoteMsg
		kws := []string{"$label1", "Work"}
		goneRate := []float64{0.15, 0.7}[seed%2] // 0.7: the guard holds deletions back
		for i := 1; i <= n; i++ {
			f := model.Flags(rng.Intn(64)) & model.AllFlags
			var kw model.Keywords
			if rng.Intn(4) == 0 {
				kw = model.NewKeywords(kws[rng.Intn(2)])
			}
			key := fmt.Sprintf("k%d", i)
			st.Pairs = append(st.Pairs, model.Pair{UID: model.UID(i), Key: key, Flags: f, Keywords: kw, Size: 10, Ino: uint64(i)})
			local = append(local, model.LocalMsg{Key: key, Flags: f, Keywords: kw, Size: -1, Ino: uint64(i)})
			if rng.Float64() < goneRate {
				continue // expunged
			}
			switch rng.Intn(5) {
			case 0: // flags changed
				m := model.RemoteMsg{UID: model.UID(i), Flags: model.Flags(rng.Intn(64)) & model.AllFlags, Keywords: kw}
				if rng.Intn(3) == 0 {
					m.Keywords = model.NewKeywords(kws[rng.Intn(2)])
				}
				remote = append(remote, m)
				changed = append(changed, m)
			default:
				remote = append(remote, model.RemoteMsg{UID: model.UID(i), Flags: f, Keywords: kw})
			}
		}
		for i := n + 1; i <= n+rng.Intn(4); i++ {
			m := model.RemoteMsg{UID: model.UID(i), Flags: model.Flags(rng.Intn(64)) & model.AllFlags, Size: 100}
			remote = append(remote, m)
			changed = append(changed, m)
		}
		var uids []model.UID
		for _, m := range remote {
			uids = append(uids, m.UID)
		}
		pol := policies[rng.Intn(len(policies))]
		allow := rng.Intn(2) == 0
		whole, err := Build(&Input{Folder: "F", State: st, UIDValidity: 1, Remote: remote, Local: local, Policy: pol, AllowMassDelete: allow})
		if err != nil {
			t.Fatal(err)
		}

		var pairUIDs []model.UID
		for _, p := range st.Pairs {
			pairUIDs = append(pairUIDs, p.UID)
		}
		d, need, ok := Changes(pairUIDs, changed, nil, false, uint32(len(remote)))
		if need {
			d, need, ok = Changes(pairUIDs, changed, uids, true, uint32(len(remote)))
		}
		if need || !ok {
			t.Fatalf("seed %d: Changes: need %v ok %v", seed, need, ok)
		}
		part := *st
		part.Pairs = nil
		var partLocal []model.LocalMsg
		for _, p := range st.Pairs {
			if _, found := slices.BinarySearch(d.Load, p.UID); found {
				part.Pairs = append(part.Pairs, p)
				partLocal = append(partLocal, local[p.UID-1])
			}
		}
		quick, err := Build(&Input{Folder: "F", State: &part, UIDValidity: 1, Remote: d.Changed, Local: partLocal, Policy: pol,
			AllowMassDelete: allow, TotalPairs: len(st.Pairs)})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(quick, whole) {
			t.Fatalf("seed %d (policy %+v, allow %v): quick plan\n%+v\nwhole plan\n%+v", seed, pol, allow, quick, whole)
		}
	}
}
