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
		return QuickInput{CondStore: true, FirstPass: true,
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

// TestQuickPlanIsTheWholePlan: for a folder left in step whose server
// side changed (flags, keywords, new messages, expunges) and whose
// Maildir side changed (flags and keywords renamed, files removed,
// replaced by a rename, touched or edited, new files, some with the
// content of a new server message), under every policy, with and
// without the paired files stat'ed, the plan of a quick pass over the
// messages changed on either side is the plan of a whole pass.
func TestQuickPlanIsTheWholePlan(t *testing.T) {
	policies := []Policy{{}, {Direction: Pull}, {Direction: Push}, {Deletions: Keep}, {Restore: true}}
	kws := []string{"$label1", "Work"}
	randFlags := func(rng *rand.Rand) model.Flags { return model.Flags(rng.Intn(64)) & model.AllFlags }
	randKw := func(rng *rand.Rand) model.Keywords {
		if rng.Intn(3) == 0 {
			return nil
		}
		return model.NewKeywords(kws[rng.Intn(2)])
	}
	for seed := int64(0); seed < 1500; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 1 + rng.Intn(40)
		stat := rng.Intn(2) == 0                        // the pass stats the paired files
		localRate := []float64{0, 0.1, 0.5}[seed%3]     // 0: only the server changed
		goneRate := []float64{0.1, 0.15, 0.7}[seed%3/2] // 0.7: the guard holds deletions back
		st := &model.FolderState{UIDValidity: 1, UIDNext: model.UID(n + 1), HighestModSeq: 100}
		var local []model.LocalMsg
		var remote, changed []model.RemoteMsg
		// What the test's "files" and "server messages" hold, for the
		// edit check and pairing by content.
		localContent := map[string]string{}
		remoteContent := map[model.UID]string{}
		for i := 1; i <= n; i++ {
			f := randFlags(rng)
			var kw model.Keywords
			if rng.Intn(4) == 0 {
				kw = model.NewKeywords(kws[rng.Intn(2)])
			}
			key := fmt.Sprintf("k%d", i)
			pr := model.Pair{UID: model.UID(i), Key: key, Flags: f, Keywords: kw, Size: 10, ModTime: int64(1000 + i),
				Ino: uint64(i), Hash: "h" + key, Fingerprint: "fp" + key}
			switch rng.Intn(12) {
			case 0:
				pr.Ino = 0 // recorded before inodes were
			case 1:
				pr.Size, pr.ModTime, pr.Hash = 0, 0, "" // recorded before sizes were
			}
			st.Pairs = append(st.Pairs, pr)
			remoteContent[pr.UID] = key
			l := model.LocalMsg{Key: key, Flags: f, Keywords: kw, Size: -1, Ino: uint64(i)}
			if stat {
				l.Size, l.ModTime = 10, int64(1000+i)
			}
			localContent[key] = key
			gone := false
			if rng.Float64() < localRate {
				switch rng.Intn(6) {
				case 0:
					l.Flags = randFlags(rng)
				case 1:
					l.Keywords = randKw(rng)
				case 2:
					gone = true
				case 3: // saved again by a rename: another inode
					l.Ino = uint64(1000 + i)
					if rng.Intn(2) == 0 {
						localContent[key] = "edited " + key
					}
				case 4: // touched or edited in place
					if stat {
						l.ModTime++
					}
					if rng.Intn(2) == 0 {
						localContent[key] = "edited " + key
					}
				case 5: // gone between listing and stat
					if stat {
						l.ModTime = 0
					}
				}
			}
			if !gone {
				local = append(local, l)
			}
			if rng.Float64() < goneRate {
				continue // expunged
			}
			if rng.Intn(5) == 0 { // flags changed
				m := model.RemoteMsg{UID: model.UID(i), Flags: randFlags(rng), Keywords: kw}
				if rng.Intn(3) == 0 {
					m.Keywords = randKw(rng)
				}
				remote = append(remote, m)
				changed = append(changed, m)
				continue
			}
			remote = append(remote, model.RemoteMsg{UID: model.UID(i), Flags: f, Keywords: kw})
		}
		for i := n + 1; i <= n+rng.Intn(4); i++ {
			m := model.RemoteMsg{UID: model.UID(i), Flags: randFlags(rng), Size: 100}
			remoteContent[m.UID] = fmt.Sprintf("c%d", rng.Intn(3))
			remote = append(remote, m)
			changed = append(changed, m)
		}
		if rng.Float64() < localRate {
			for i := 0; i < 1+rng.Intn(3); i++ {
				key := fmt.Sprintf("new%d", i)
				local = append(local, model.LocalMsg{Key: key, Flags: randFlags(rng), Keywords: randKw(rng), Size: -1, Ino: uint64(5000 + i)})
				localContent[key] = fmt.Sprintf("c%d", rng.Intn(3))
			}
		}
		var uids []model.UID
		for _, m := range remote {
			uids = append(uids, m.UID)
		}
		// fill reads what the planner asks for, in the executor's order
		// (editCheck, fingerprint, hash).
		fill := func(in *Input) *Input {
			in.Local, in.Remote = slices.Clone(in.Local), slices.Clone(in.Remote)
			setLocal := func(keys []string, set func(l *model.LocalMsg, c string)) {
				for _, k := range keys {
					for i := range in.Local {
						if in.Local[i].Key == k {
							set(&in.Local[i], localContent[k])
						}
					}
				}
			}
			setRemote := func(uids []model.UID, set func(m *model.RemoteMsg, c string)) {
				for _, u := range uids {
					for i := range in.Remote {
						if in.Remote[i].UID == u {
							set(&in.Remote[i], remoteContent[u])
						}
					}
				}
			}
			setLocal(NeedEditCheck(in), func(l *model.LocalMsg, c string) { l.Hash, l.Fingerprint, l.WireSize = "h"+c, "fp"+c, 10 })
			ruids, lkeys := NeedFingerprints(in)
			setRemote(ruids, func(m *model.RemoteMsg, c string) { m.Fingerprint = "fp" + c })
			setLocal(lkeys, func(l *model.LocalMsg, c string) { l.Fingerprint = "fp" + c })
			ruids, lkeys = NeedHashes(in)
			setRemote(ruids, func(m *model.RemoteMsg, c string) { m.Hash = "h" + c })
			setLocal(lkeys, func(l *model.LocalMsg, c string) { l.Hash = "h" + c })
			return in
		}
		pol := policies[rng.Intn(len(policies))]
		allow := rng.Intn(2) == 0
		whole, err := Build(fill(&Input{Folder: "F", State: st, UIDValidity: 1, Remote: remote, Local: local, Policy: pol, AllowMassDelete: allow}))
		if err != nil {
			t.Fatal(err)
		}

		// The quick pass: what changed on the server (Changes), the
		// pairs whose files changed or are gone (LocalUnchanged), the
		// files of no pair.
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
		localOf := map[string]model.LocalMsg{}
		for _, l := range local {
			localOf[l.Key] = l
		}
		part := *st
		part.Pairs = nil
		partRemote := slices.Clone(d.Changed)
		pairedKeys := map[string]bool{}
		for _, p := range st.Pairs {
			pairedKeys[p.Key] = true
			_, serverChanged := slices.BinarySearch(d.Load, p.UID)
			l, ok := localOf[p.Key]
			if !serverChanged && ok && LocalUnchanged(p, l, stat) {
				continue
			}
			part.Pairs = append(part.Pairs, p)
			if !serverChanged { // unchanged on the server: as the pair says
				partRemote = append(partRemote, model.RemoteMsg{UID: p.UID, Flags: p.Flags, Keywords: p.Keywords})
			}
		}
		slices.SortFunc(partRemote, func(a, b model.RemoteMsg) int { return int(a.UID) - int(b.UID) })
		var partLocal []model.LocalMsg
		for _, l := range local {
			if !pairedKeys[l.Key] || slices.ContainsFunc(part.Pairs, func(p model.Pair) bool { return p.Key == l.Key }) {
				partLocal = append(partLocal, l)
			}
		}
		quick, err := Build(fill(&Input{Folder: "F", State: &part, UIDValidity: 1, Remote: partRemote, Local: partLocal, Policy: pol,
			AllowMassDelete: allow, TotalPairs: len(st.Pairs)}))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(quick, whole) {
			t.Fatalf("seed %d (policy %+v, allow %v, stat %v): quick plan\n%+v\nwhole plan\n%+v", seed, pol, allow, stat, quick, whole)
		}
	}
}

// TestKnownFiles: files are found by name only with an Exact record
// whose mtimes the directories still have, and no edit check due.
func TestKnownFiles(t *testing.T) {
	rec := SkipRecord{NewMtime: 10, CurMtime: 20, Exact: true}
	for _, c := range []struct {
		what  string
		rec   SkipRecord
		pre   [2]int64
		check bool
		want  bool
	}{
		{"exact, untouched", rec, [2]int64{10, 20}, false, true},
		{"edit check due", rec, [2]int64{10, 20}, true, false},
		{"cur/ changed", rec, [2]int64{10, 21}, false, false},
		{"new/ changed", rec, [2]int64{11, 20}, false, false},
		{"not exact", SkipRecord{NewMtime: 10, CurMtime: 20}, [2]int64{10, 20}, false, false},
		{"no record", SkipRecord{Exact: true}, [2]int64{0, 0}, false, false},
	} {
		if got := KnownFiles(c.rec, c.pre, c.check); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
}

// TestKeepsExact: only downloads, flag renames and removals of messages
// gone from the server keep one file per pair.
func TestKeepsExact(t *testing.T) {
	keeps := Plan{Download: []Download{{UID: 1}}, Flags: []FlagSync{{UID: 2}}, DeleteLocal: []Ref{{UID: 3, Key: "k"}},
		UpdatePairs: []model.Pair{{UID: 2, Key: "k2"}}}
	if !KeepsExact(&keeps) {
		t.Fatal("downloads, flags and local deletions do not keep the folder exact")
	}
	for what, p := range map[string]Plan{
		"pair by content": {Pair: []NewPair{{UID: 1, Key: "k"}}},
		"upload":          {Upload: []Upload{{Key: "k"}}},
		"expunge":         {ExpungeRemote: []Ref{{UID: 1, Key: "k"}}},
		"replace":         {Replace: []Ref{{UID: 1, Key: "k"}}},
		"orphans":         {RemoveOrphans: []string{"k"}},
		"blocked":         {Blocked: []string{"held back"}},
		"held back":       {HeldBack: []model.UID{1}, SetHeldBack: true},
		"drop intents":    {DropIntents: []string{"k"}},
		"drop downloads":  {DropDownloads: []model.UID{1}},
		"drop pairs":      {DropPairs: []model.UID{1}},
		"reset":           {ResetPairs: true},
	} {
		if KeepsExact(&p) {
			t.Errorf("%s keeps the folder exact", what)
		}
	}
}

// TestChangesCounted: from the number of pairs and the paired changed
// UIDs alone, ChangesCounted finds the delta Changes finds from every
// pair's UID whenever the counts prove nothing was expunged, and
// declines otherwise (random folders, reports and expunges).
func TestChangesCounted(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	agreed, declined := 0, 0
	for i := 0; i < 5000; i++ {
		var pairUIDs []model.UID
		for u := model.UID(1); u <= 40; u++ {
			if rng.Intn(3) > 0 {
				pairUIDs = append(pairUIDs, u)
			}
		}
		var changed []model.RemoteMsg
		var pairedChanged []model.UID
		for j := rng.Intn(8); j > 0; j-- {
			u := model.UID(1 + rng.Intn(50)) // 41-50: new
			changed = append(changed, model.RemoteMsg{UID: u, Flags: model.Flags(rng.Intn(4))})
			if _, found := slices.BinarySearch(pairUIDs, u); found {
				pairedChanged = append(pairedChanged, u)
			}
		}
		newCount := 0
		seen := map[model.UID]bool{}
		for _, m := range changed {
			if _, found := slices.BinarySearch(pairUIDs, m.UID); !found && !seen[m.UID] {
				newCount++
			}
			seen[m.UID] = true
		}
		messages := len(pairUIDs) + newCount - rng.Intn(3) + rng.Intn(2) // expunged, or one more
		if messages < 0 {
			messages = 0
		}
		d1, need, ok1 := Changes(pairUIDs, changed, nil, false, uint32(messages))
		d2, ok2 := ChangesCounted(len(pairUIDs), pairedChanged, changed, uint32(messages))
		if ok2 != (ok1 && !need) {
			t.Fatalf("case %d: ChangesCounted ok %v, Changes ok %v need %v\npairs %v\nchanged %v\nmessages %d", i, ok2, ok1, need, pairUIDs, changed, messages)
		}
		if !ok2 {
			declined++
			continue
		}
		agreed++
		if fmt.Sprint(d1) != fmt.Sprint(d2) {
			t.Fatalf("case %d: ChangesCounted %+v, Changes %+v", i, d2, d1)
		}
	}
	if agreed < 500 || declined < 500 {
		t.Fatalf("%d cases agreed, %d declined: the cases do not cover both", agreed, declined)
	}
	// A paired UID that CHANGEDSINCE did not report is the caller's
	// mistake: declined.
	if _, ok := ChangesCounted(2, []model.UID{1, 2}, []model.RemoteMsg{{UID: 1}}, 2); ok {
		t.Fatal("a paired UID that was not reported was taken")
	}
}
