package plan

import (
	"reflect"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// TestPolicy runs Build with each direction, deletion policy and
// --restore over the situations they change: new mail on each side,
// flags changed on each side, a message deleted on each side, and a mass
// deletion (the guard sees only the deletions that are propagated).
func TestPolicy(t *testing.T) {
	pull, push := Policy{Direction: Pull}, Policy{Direction: Push}
	pullKeep, pushKeep := Policy{Direction: Pull, Deletions: Keep}, Policy{Direction: Push, Deletions: Keep}
	keep := Policy{Deletions: Keep}
	restore := Policy{Restore: true}
	pairsAB := []model.Pair{pr(1, "a", S), pr(2, "b", 0)}
	five := []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0), pr(4, "d", 0), pr(5, "e", 0)}
	fiveLocal := []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, ""), lm("d", 0, ""), lm("e", 0, "")}
	fiveRemote := []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, ""), rm(3, 0, ""), rm(4, 0, ""), rm(5, 0, "")}
	tests := []struct {
		name    string
		pol     Policy
		unkept  model.Flags
		state   []model.Pair
		remote  []model.RemoteMsg
		local   []model.LocalMsg
		dl      []model.DownloadIntent
		want    Plan
		blocked int
	}{
		// New mail.
		{name: "pull downloads, never uploads", pol: pull, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, ""), rm(3, 0, "n")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, ""), lm("x", 0, "l")},
			want: Plan{Download: []Download{{UID: 3, Size: 100}}}},
		{name: "push uploads, never downloads", pol: push, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, ""), rm(3, 0, "n")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, ""), lm("x", 0, "l")},
			want: Plan{Upload: []Upload{{Key: "x"}}}},
		// Flags.
		{name: "pull: a local flag change is undone (the server wins)", pol: pull, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S|F, ""), lm("b", 0, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S, Local: S | F, Target: S}}}},
		{name: "pull: a server flag change comes down", pol: pull, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, R, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: 0, Local: S, Target: 0}, {UID: 2, Key: "b", Base: 0, Remote: R, Local: 0, Target: R}}}},
		{name: "pull: a flag the server cannot store keeps its Maildir value", pol: pull, unkept: F, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S|F, ""), lm("b", 0, "")},
			want: Plan{Unkept: F, Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: 0, Local: S | F, Target: F}}}},
		{name: "push: a server flag change is undone, a local one goes up", pol: push, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S|F, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", R, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S | F, Local: S, Target: S}, {UID: 2, Key: "b", Base: 0, Remote: 0, Local: R, Target: R}}}},
		// Deleted on the server.
		{name: "pull+propagate deletes locally", pol: pull, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{DeleteLocal: []Ref{{1, "a"}}}},
		{name: "pull+keep keeps the file and forgets the pair", pol: pullKeep, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}}},
		{name: "push keeps the file and the pair (never uploaded again)", pol: push, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{}},
		{name: "both+keep keeps the file and the pair (never uploaded again)", pol: keep, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{}},
		{name: "restore uploads it again", pol: restore, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}, Upload: []Upload{{Key: "a", Flags: S}}}},
		{name: "restore under pull does not upload", pol: Policy{Direction: Pull, Deletions: Keep, Restore: true}, state: pairsAB,
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("a", S, ""), lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}}},
		// Deleted in the Maildir.
		{name: "push+propagate expunges", pol: push, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{ExpungeRemote: []Ref{{1, "a"}}}},
		{name: "push+keep keeps the server's copy and forgets the pair", pol: pushKeep, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}}},
		{name: "pull never expunges and never downloads it again", pol: pull, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{}},
		{name: "both+keep keeps the server's copy", pol: keep, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{}},
		{name: "restore downloads it again", pol: restore, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}, Download: []Download{{UID: 1, Flags: S, Size: 100}}}},
		{name: "restore under push does not download", pol: Policy{Direction: Push, Restore: true}, state: pairsAB,
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{ExpungeRemote: []Ref{{1, "a"}}}},
		// Mass deletions and the guard.
		{name: "both: a folder emptied locally is guarded", pol: Policy{}, state: five, remote: fiveRemote,
			want: Plan{HeldBack: []model.UID{1, 2, 3, 4, 5}, SetHeldBack: true}, blocked: 1},
		{name: "pull+propagate: a folder emptied locally is left alone, no guard", pol: pull, state: five, remote: fiveRemote,
			want: Plan{}},
		{name: "pull+propagate: a folder emptied on the server is guarded", pol: pull, state: five, local: fiveLocal,
			want: Plan{HeldBack: []model.UID{1, 2, 3, 4, 5}, SetHeldBack: true}, blocked: 1},
		{name: "pull+keep: a folder emptied on the server is kept, no guard", pol: pullKeep, state: five, local: fiveLocal,
			want: Plan{DropPairs: []model.UID{1, 2, 3, 4, 5}}},
		{name: "restore: a folder emptied locally is downloaded again, no guard", pol: restore, state: five, remote: fiveRemote,
			want: Plan{DropPairs: []model.UID{1, 2, 3, 4, 5}, Download: []Download{{UID: 1, Size: 100}, {UID: 2, Size: 100}, {UID: 3, Size: 100}, {UID: 4, Size: 100}, {UID: 5, Size: 100}}}},
		// Orphans of an interrupted download.
		{name: "push leaves an orphan and its intent alone", pol: push,
			dl:    []model.DownloadIntent{{UID: 9, Fingerprint: "o", Hash: hashOf("o")}},
			local: []model.LocalMsg{lm("o", 0, "o")},
			want:  Plan{}},
		{name: "pull removes an orphan", pol: pull,
			dl:    []model.DownloadIntent{{UID: 9, Fingerprint: "o", Hash: hashOf("o")}},
			local: []model.LocalMsg{lm("o", 0, "o")},
			want:  Plan{RemoveOrphans: []string{"o"}, DropDownloads: []model.UID{9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &model.FolderState{Name: "F", Pairs: tt.state, Downloads: tt.dl, UIDValidity: 1}
			in := &Input{Folder: "F", State: st, UIDValidity: 1, Remote: tt.remote, Local: tt.local, Unkept: tt.unkept, Policy: tt.pol}
			got, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Blocked) != tt.blocked {
				t.Fatalf("blocked %q, want %d", got.Blocked, tt.blocked)
			}
			got.Blocked = nil
			tt.want.Folder = "F"
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("plan\n got %+v\nwant %+v", *got, tt.want)
			}
			if tt.pol.Direction == Pull {
				for _, f := range got.Flags {
					if f.ServerTarget(got.Unkept) != f.Remote {
						t.Errorf("pull changes the server's flags: %+v", f)
					}
				}
			}
			if tt.pol.Direction == Push {
				for _, f := range got.Flags {
					if f.Target != f.Local {
						t.Errorf("push changes the Maildir's flags: %+v", f)
					}
				}
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"both", "pull", "push"} {
		d, err := ParseDirection(s)
		if err != nil || d.String() != s {
			t.Errorf("%q: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"propagate", "keep"} {
		d, err := ParseDeletions(s)
		if err != nil || d.String() != s {
			t.Errorf("%q: %v %v", s, d, err)
		}
	}
	if _, err := ParseDirection("up"); err == nil {
		t.Error("direction up accepted")
	}
	if _, err := ParseDeletions("never"); err == nil {
		t.Error("deletions never accepted")
	}
}

// TestValidityResetUnderPolicy: a Maildir file deleted since the last
// sync makes a UIDVALIDITY change a conflict only when the deletion would
// be expunged on the server; under pull or deletions keep the folder is
// re-paired by content instead of failing every run.
func TestValidityResetUnderPolicy(t *testing.T) {
	pairs := []model.Pair{pr(1, "a", S), pr(2, "b", 0)}
	for _, tt := range []struct {
		pol      Policy
		conflict bool
	}{
		{Policy{}, true},
		{Policy{Direction: Push}, true},
		{Policy{Direction: Pull}, false},
		{Policy{Deletions: Keep}, false},
		{Policy{Direction: Push, Deletions: Keep}, false},
	} {
		in := &Input{Folder: "F", State: &model.FolderState{UIDValidity: 1, Pairs: pairs}, UIDValidity: 2,
			Local: []model.LocalMsg{lm("a", 0, "")}, Remote: []model.RemoteMsg{rm(7, 0, "")}, Policy: tt.pol}
		r, err := ValidityReset(in)
		if tt.conflict != (err != nil) || (err == nil && !r.Reset) {
			t.Errorf("%+v: %+v %v", tt.pol, r, err)
		}
	}
}
