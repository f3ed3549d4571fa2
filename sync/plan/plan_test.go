package plan

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mailsync/mailsync/model"
)

const (
	S = model.FlagSeen
	F = model.FlagFlagged
	R = model.FlagReplied
	T = model.FlagTrashed
)

// rm and lm make listings whose messages with a fingerprint have the
// content hash that goes with it (same fingerprint, same content);
// rmh and lmh give the hash explicitly.
func rm(uid model.UID, f model.Flags, fp string) model.RemoteMsg {
	return rmh(uid, f, fp, hashOf(fp))
}
func lm(key string, f model.Flags, fp string) model.LocalMsg {
	return lmh(key, f, fp, hashOf(fp))
}
func rmh(uid model.UID, f model.Flags, fp, hash string) model.RemoteMsg {
	return model.RemoteMsg{UID: uid, Flags: f, Size: 100, Fingerprint: fp, Hash: hash}
}
func lmh(key string, f model.Flags, fp, hash string) model.LocalMsg {
	return model.LocalMsg{Key: key, Flags: f, Fingerprint: fp, Hash: hash}
}
func hashOf(fp string) string {
	if fp == "" {
		return ""
	}
	return "content-" + fp
}
func pr(uid model.UID, key string, f model.Flags) model.Pair {
	return model.Pair{UID: uid, Key: key, Flags: f}
}

func TestBuildPlan(t *testing.T) {
	tests := []struct {
		name     string
		validity uint32 // server's; state's is 1 unless no pairs
		state    []model.Pair
		intents  []model.Intent
		held     []model.UID
		remote   []model.RemoteMsg
		local    []model.LocalMsg
		allow    bool
		want     Plan
		wantErr  error
	}{
		{name: "nothing changed", state: []model.Pair{pr(1, "a", S)},
			remote: []model.RemoteMsg{rm(1, S, "")}, local: []model.LocalMsg{lm("a", S, "")},
			want: Plan{}},
		{name: "new on server is downloaded",
			remote: []model.RemoteMsg{rm(1, S, ""), rm(2, 0, "")},
			want:   Plan{Download: []Download{{UID: 1, Flags: S, Size: 100}, {UID: 2, Size: 100}}}},
		{name: "new locally is uploaded",
			local: []model.LocalMsg{lm("b", F, ""), lm("a", 0, "")},
			want:  Plan{Upload: []Upload{{Key: "a"}, {Key: "b", Flags: F}}}},
		{name: "flag set on server goes to the Maildir", state: []model.Pair{pr(1, "a", 0)},
			remote: []model.RemoteMsg{rm(1, S, "")}, local: []model.LocalMsg{lm("a", 0, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: 0, Remote: S, Local: 0, Target: S}}}},
		{name: "flag cleared locally goes to the server", state: []model.Pair{pr(1, "a", S|F)},
			remote: []model.RemoteMsg{rm(1, S|F, "")}, local: []model.LocalMsg{lm("a", S, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S | F, Remote: S | F, Local: S, Target: S}}}},
		{name: "changes on both sides merge per flag", state: []model.Pair{pr(1, "a", S)},
			remote: []model.RemoteMsg{rm(1, S|F, "")}, local: []model.LocalMsg{lm("a", R, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S | F, Local: R, Target: F | R}}}},
		{name: "same change on both sides only updates the state", state: []model.Pair{pr(1, "a", 0)},
			remote: []model.RemoteMsg{rm(1, S, "")}, local: []model.LocalMsg{lm("a", S, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: 0, Remote: S, Local: S, Target: S}}}},
		{name: "deleted flag is synced like any flag", state: []model.Pair{pr(1, "a", S)},
			remote: []model.RemoteMsg{rm(1, S, "")}, local: []model.LocalMsg{lm("a", S|T, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S, Local: S | T, Target: S | T}}}},
		{name: "expunged on server removes the file", state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0)},
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(3, 0, "")}, local: []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, "")},
			want: Plan{DeleteLocal: []Ref{{2, "b"}}}},
		{name: "file removed expunges exactly that UID", state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0)},
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{ExpungeRemote: []Ref{{1, "a"}}}},
		{name: "gone on both sides drops the pair", state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0)},
			remote: []model.RemoteMsg{rm(2, 0, "")}, local: []model.LocalMsg{lm("b", 0, "")},
			want: Plan{DropPairs: []model.UID{1}}},
		{name: "unpaired on both sides with equal content is paired, not copied",
			remote: []model.RemoteMsg{rm(5, S, "x"), rm(6, 0, "y")}, local: []model.LocalMsg{lm("k", S|F, "x"), lm("n", 0, "z")},
			want: Plan{Pair: []NewPair{{UID: 5, Key: "k", Base: S}},
				Flags:    []FlagSync{{UID: 5, Key: "k", Base: S, Remote: S, Local: S | F, Target: S | F}},
				Download: []Download{{UID: 6, Size: 100}}, Upload: []Upload{{Key: "n"}}}},
		{name: "duplicates pair one to one",
			remote: []model.RemoteMsg{rm(1, 0, "x"), rm(2, 0, "x")}, local: []model.LocalMsg{lm("k", 0, "x")},
			want: Plan{Pair: []NewPair{{UID: 1, Key: "k"}}, Download: []Download{{UID: 2, Size: 100}}}},
		{name: "interrupted upload found on the server is paired", intents: []model.Intent{{Key: "k", Fingerprint: "x"}},
			remote: []model.RemoteMsg{rm(9, 0, "x")}, local: []model.LocalMsg{lm("k", 0, "x")},
			want: Plan{Pair: []NewPair{{UID: 9, Key: "k"}}, DropIntents: []string{"k"}}},
		{name: "interrupted upload then deleted locally is expunged", state: []model.Pair{pr(1, "a", 0)},
			intents: []model.Intent{{Key: "gone", Fingerprint: "x"}},
			remote:  []model.RemoteMsg{rm(1, 0, ""), rm(9, 0, "x")}, local: []model.LocalMsg{lm("a", 0, "")},
			want: Plan{ExpungeRemote: []Ref{{9, "gone"}}, DropIntents: []string{"gone"}}},
		{name: "UIDVALIDITY change re-pairs by content and keeps the old base", validity: 2,
			state:  []model.Pair{pr(1, "a", S), pr(2, "b", S), pr(3, "c", 0)},
			remote: []model.RemoteMsg{rm(11, S|F, "fa"), rm(12, S, "fb"), rm(13, 0, "new")},
			local:  []model.LocalMsg{lm("a", S, "fa"), lm("b", 0, "fb"), lm("c", 0, "fc")},
			want: Plan{ResetPairs: true,
				Pair: []NewPair{{UID: 11, Key: "a", Base: S}, {UID: 12, Key: "b", Base: S}},
				Flags: []FlagSync{{UID: 11, Key: "a", Base: S, Remote: S | F, Local: S, Target: S | F},
					{UID: 12, Key: "b", Base: S, Remote: S, Local: 0, Target: 0}},
				Download: []Download{{UID: 13, Size: 100}}, Upload: []Upload{{Key: "c"}}}},
		{name: "UIDVALIDITY change with a new local message re-pairs and uploads it", validity: 2,
			state: []model.Pair{pr(1, "a", 0)}, remote: []model.RemoteMsg{rm(1, 0, "fa")},
			local: []model.LocalMsg{lm("a", 0, "fa"), lm("b", 0, "fb")},
			want:  Plan{ResetPairs: true, Pair: []NewPair{{UID: 1, Key: "a"}}, Upload: []Upload{{Key: "b"}}}},
		{name: "UIDVALIDITY change with a local deletion is refused", validity: 2,
			state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0)}, remote: []model.RemoteMsg{rm(1, 0, "fa")},
			local: []model.LocalMsg{lm("a", 0, "fa")}, wantErr: ErrValidityConflict},
		{name: "emptied Maildir folder deletes nothing on the server",
			state:  []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0), pr(4, "d", 0), pr(5, "e", 0)},
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, ""), rm(3, 0, ""), rm(4, 0, ""), rm(5, 0, "")},
			want: Plan{Blocked: []string{`folder "F": 5 of 5 messages are gone from the Maildir; not deleting them on the server (run with --allow-mass-delete to delete them there too, or with --restore to download them again)`},
				HeldBack: []model.UID{1, 2, 3, 4, 5}, SetHeldBack: true}},
		{name: "emptied server folder deletes nothing locally",
			state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0), pr(4, "d", 0), pr(5, "e", 0)},
			local: []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, ""), lm("d", 0, ""), lm("e", 0, "")},
			want: Plan{Blocked: []string{`folder "F": 5 of 5 messages are gone from the server; not deleting them from the Maildir (run with --allow-mass-delete to delete them there too, or with --restore to upload them again)`},
				HeldBack: []model.UID{1, 2, 3, 4, 5}, SetHeldBack: true}},
		// Issue 8 case 2: the deletions held back at 5 of 8 stay held
		// when 2 uploads made it 5 of 10, and nothing is rewritten.
		{name: "held-back deletions stay held when they are no longer most",
			state:  []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0), pr(4, "d", 0), pr(5, "e", 0), pr(6, "f", 0), pr(7, "g", 0), pr(8, "h", 0), pr(9, "i", 0), pr(10, "j", 0)},
			held:   []model.UID{1, 2, 3, 4, 5},
			remote: []model.RemoteMsg{rm(6, 0, ""), rm(7, 0, ""), rm(8, 0, ""), rm(9, 0, ""), rm(10, 0, "")},
			local:  []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, ""), lm("d", 0, ""), lm("e", 0, ""), lm("f", 0, ""), lm("g", 0, ""), lm("h", 0, ""), lm("i", 0, ""), lm("j", 0, "")},
			want: Plan{Blocked: []string{`folder "F": 5 of 10 messages are gone from the server; not deleting them from the Maildir (run with --allow-mass-delete to delete them there too, or with --restore to upload them again)`},
				HeldBack: []model.UID{1, 2, 3, 4, 5}}},
		{name: "held-back deletions are carried out when allowed, and the hold forgotten",
			state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0)}, held: []model.UID{1, 2}, allow: true,
			remote: []model.RemoteMsg{rm(3, 0, "")}, local: []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, "")},
			want: Plan{DeleteLocal: []Ref{{1, "a"}, {2, "b"}}, SetHeldBack: true}},
		{name: "a hold whose messages came back is forgotten",
			state: []model.Pair{pr(1, "a", 0)}, held: []model.UID{1},
			remote: []model.RemoteMsg{rm(1, 0, "")}, local: []model.LocalMsg{lm("a", 0, "")},
			want: Plan{SetHeldBack: true}},
		{name: "mass deletion when allowed",
			state: []model.Pair{pr(1, "a", 0), pr(2, "b", 0), pr(3, "c", 0), pr(4, "d", 0), pr(5, "e", 0)},
			local: []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, ""), lm("d", 0, ""), lm("e", 0, "")}, allow: true,
			want: Plan{DeleteLocal: []Ref{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}}}},
		// Issue 8 case 4: pairs naming missing files, the messages under
		// other names: paired again (same UID, new key, old base).
		{name: "a pair whose file is gone re-pairs with the same content under another name",
			state:  []model.Pair{pr(1, "a", S), pr(2, "b", 0)},
			remote: []model.RemoteMsg{rm(1, S, "x"), rm(2, 0, "y")}, local: []model.LocalMsg{lm("a2", S|F, "x"), lm("b", 0, "y")},
			want: Plan{Pair: []NewPair{{UID: 1, Key: "a2", Base: S}},
				Flags: []FlagSync{{UID: 1, Key: "a2", Base: S, Remote: S, Local: S | F, Target: S | F}}}},
		{name: "a pair whose file is gone, other content: expunged, the new file uploaded",
			state:  []model.Pair{pr(1, "a", 0)},
			remote: []model.RemoteMsg{rmh(1, 0, "x", "h1")}, local: []model.LocalMsg{lmh("a2", 0, "x", "h2")},
			want: Plan{ExpungeRemote: []Ref{{1, "a"}}, Upload: []Upload{{Key: "a2"}}}},
		{name: "a few deletions out of few messages pass the guard",
			state:  []model.Pair{pr(1, "a", 0), pr(2, "b", 0)},
			remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, "")},
			want:   Plan{ExpungeRemote: []Ref{{1, "a"}, {2, "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &model.FolderState{Name: "F", Pairs: tt.state, Intents: tt.intents, HeldBack: tt.held}
			validity := tt.validity
			if validity == 0 {
				validity = 1
			}
			if len(tt.state) > 0 {
				st.UIDValidity = 1
			}
			in := &Input{Folder: "F", State: st, UIDValidity: validity, Remote: tt.remote, Local: tt.local, AllowMassDelete: tt.allow}
			got, err := Build(in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Folder = "F"
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("plan\n got %+v\nwant %+v", *got, tt.want)
			}
			if got.Empty() != reflect.DeepEqual(tt.want, Plan{Folder: "F", Blocked: tt.want.Blocked, HeldBack: tt.want.HeldBack}) {
				t.Fatalf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestNeedFingerprints(t *testing.T) {
	st := &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{pr(1, "a", 0)}}
	in := &Input{State: st, UIDValidity: 1,
		Remote: []model.RemoteMsg{rm(1, 0, ""), rm(2, 0, "")},
		Local:  []model.LocalMsg{lm("a", 0, ""), lm("b", 0, "")}}
	r, l := NeedFingerprints(in)
	if !reflect.DeepEqual(r, []model.UID{2}) || !reflect.DeepEqual(l, []string{"b"}) {
		t.Fatalf("both unpaired: %v %v", r, l)
	}
	// Only new mail on the server: nothing to compare, no header fetch.
	in.Local = in.Local[:1]
	if r, l := NeedFingerprints(in); r != nil || l != nil {
		t.Fatalf("only remote new: %v %v", r, l)
	}
	// An interrupted upload whose file is gone: the server side is needed.
	st.Intents = []model.Intent{{Key: "gone", Fingerprint: "x"}}
	if r, _ := NeedFingerprints(in); !reflect.DeepEqual(r, []model.UID{2}) {
		t.Fatalf("lost intent: %v", r)
	}
	// UIDVALIDITY changed: everything.
	st.Intents = nil
	in.UIDValidity = 2
	if r, l := NeedFingerprints(in); len(r) != 2 || len(l) != 1 {
		t.Fatalf("validity change: %v %v", r, l)
	}
}
