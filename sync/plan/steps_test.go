package plan

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/model"
)

func TestValidityReset(t *testing.T) {
	pairs := []model.Pair{pr(1, "a", S), pr(2, "b", 0)}
	tests := []struct {
		name      string
		stored    uint32
		local     []model.LocalMsg
		wantReset bool
		wantErr   bool
		remote    []model.RemoteMsg
	}{
		{name: "never synced", stored: 0, local: []model.LocalMsg{lm("x", 0, "")}},
		{name: "unchanged", stored: 7, local: []model.LocalMsg{lm("a", 0, "")}},
		{name: "changed, Maildir as remembered", stored: 1, local: []model.LocalMsg{lm("a", F, ""), lm("b", 0, "")}, wantReset: true},
		{name: "changed, a file deleted", stored: 1, local: []model.LocalMsg{lm("a", 0, "")}, remote: []model.RemoteMsg{{UID: 1}}, wantErr: true},
		{name: "changed, a file deleted, server folder empty", stored: 1, local: []model.LocalMsg{lm("a", 0, "")}, wantReset: true},
		{name: "changed, a file new", stored: 1, local: []model.LocalMsg{lm("a", 0, ""), lm("b", 0, ""), lm("c", 0, "")}, wantReset: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{Folder: "F", State: &model.FolderState{UIDValidity: tt.stored, Pairs: pairs}, UIDValidity: 7, Local: tt.local, Remote: tt.remote}
			got, err := ValidityReset(in)
			if tt.wantErr {
				if !errors.Is(err, ErrValidityConflict) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || got.Reset != tt.wantReset {
				t.Fatalf("got %+v, %v", got, err)
			}
			if got.Reset && !reflect.DeepEqual(got.OldBase, map[string]model.Flags{"a": S, "b": 0}) {
				t.Fatalf("old base %v", got.OldBase)
			}
		})
	}
}

func TestDiffPairs(t *testing.T) {
	tests := []struct {
		name   string
		remote []model.RemoteMsg
		local  []model.LocalMsg
		want   Plan
	}{
		{name: "both sides, same flags", remote: []model.RemoteMsg{rm(1, S, "")}, local: []model.LocalMsg{lm("a", S, "")}},
		{name: "both sides, flags moved", remote: []model.RemoteMsg{rm(1, S|F, "")}, local: []model.LocalMsg{lm("a", S, "")},
			want: Plan{Flags: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S | F, Local: S, Target: S | F}}}},
		{name: "server only", remote: []model.RemoteMsg{rm(1, S, "")}, want: Plan{ExpungeRemote: []Ref{{1, "a"}}}},
		{name: "Maildir only", local: []model.LocalMsg{lm("a", S, "")}, want: Plan{DeleteLocal: []Ref{{1, "a"}}}},
		{name: "neither", want: Plan{DropPairs: []model.UID{1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := map[model.UID]model.RemoteMsg{}
			for _, r := range tt.remote {
				remote[r.UID] = r
			}
			local := map[string]model.LocalMsg{}
			for _, l := range tt.local {
				local[l.Key] = l
			}
			var got Plan
			DiffPairs(&got, []model.Pair{pr(1, "a", S)}, RemoteMap(remote), LocalMap(local))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPairByContent(t *testing.T) {
	tests := []struct {
		name    string
		pairs   []model.Pair
		intents []model.Intent
		dls     []model.DownloadIntent
		oldBase map[string]model.Flags
		remote  []model.RemoteMsg
		local   []model.LocalMsg
		want    Plan
	}{
		{name: "paired messages are not looked at", pairs: []model.Pair{pr(1, "a", 0)},
			remote: []model.RemoteMsg{rm(1, 0, "x")}, local: []model.LocalMsg{lm("a", 0, "x")}},
		{name: "same fingerprint pairs with the common flags as base",
			remote: []model.RemoteMsg{rm(3, S|F, "x")}, local: []model.LocalMsg{lm("k", S, "x")},
			want: Plan{Pair: []NewPair{{UID: 3, Key: "k", Base: S}},
				Flags: []FlagSync{{UID: 3, Key: "k", Base: S, Remote: S | F, Local: S, Target: S | F}}}},
		{name: "old base after a reset is kept", oldBase: map[string]model.Flags{"k": S | F},
			remote: []model.RemoteMsg{rm(3, S|F, "x")}, local: []model.LocalMsg{lm("k", S, "x")},
			want: Plan{Pair: []NewPair{{UID: 3, Key: "k", Base: S | F}},
				Flags: []FlagSync{{UID: 3, Key: "k", Base: S | F, Remote: S | F, Local: S, Target: S}}}},
		{name: "lowest UID pairs with the lowest key",
			remote: []model.RemoteMsg{rm(9, 0, "x"), rm(4, 0, "x")}, local: []model.LocalMsg{lm("z", 0, "x"), lm("b", 0, "x")},
			want: Plan{Pair: []NewPair{{UID: 4, Key: "b"}, {UID: 9, Key: "z"}}}},
		{name: "no fingerprint: download and upload",
			remote: []model.RemoteMsg{rm(2, S, "")}, local: []model.LocalMsg{lm("k", F, "")},
			want: Plan{Download: []Download{{UID: 2, Flags: S, Size: 100}}, Upload: []Upload{{Key: "k", Flags: F}}}},
		// Issue 8 case 1: same header block and size, different bodies.
		{name: "same fingerprint, different content: download and upload",
			remote: []model.RemoteMsg{rmh(2, 0, "x", "h1")}, local: []model.LocalMsg{lmh("k", 0, "x", "h2")},
			want: Plan{Download: []Download{{UID: 2, Size: 100}}, Upload: []Upload{{Key: "k"}}}},
		{name: "same fingerprint, content not hashed: not paired",
			remote: []model.RemoteMsg{rmh(2, 0, "x", "")}, local: []model.LocalMsg{lmh("k", 0, "x", "h1")},
			want: Plan{Download: []Download{{UID: 2, Size: 100}}, Upload: []Upload{{Key: "k"}}}},
		{name: "same fingerprint twice: each pairs with its own content",
			remote: []model.RemoteMsg{rmh(2, 0, "x", "h1"), rmh(3, 0, "x", "h2")}, local: []model.LocalMsg{lmh("a", 0, "x", "h2"), lmh("b", 0, "x", "h1")},
			want: Plan{Pair: []NewPair{{UID: 2, Key: "b"}, {UID: 3, Key: "a"}}}},
		{name: "intent whose file is gone, other content: downloaded, not expunged",
			intents: []model.Intent{{Key: "gone", Fingerprint: "x", Hash: "h1"}},
			remote:  []model.RemoteMsg{rmh(2, 0, "x", "h2")},
			want:    Plan{DropIntents: []string{"gone"}, Download: []Download{{UID: 2, Size: 100}}}},
		// Issue 8 case 3: a crash after writing a downloaded file and
		// before its pair was committed.
		{name: "orphan of an interrupted download whose message is gone is removed",
			dls:   []model.DownloadIntent{{UID: 5, Fingerprint: "x", Hash: "content-x"}},
			local: []model.LocalMsg{lm("k", 0, "x")},
			want:  Plan{RemoveOrphans: []string{"k"}, DropDownloads: []model.UID{5}}},
		{name: "interrupted download still on the server is paired",
			dls:    []model.DownloadIntent{{UID: 5, Fingerprint: "x", Hash: "content-x"}},
			remote: []model.RemoteMsg{rm(5, 0, "x")}, local: []model.LocalMsg{lm("k", 0, "x")},
			want: Plan{Pair: []NewPair{{UID: 5, Key: "k"}}, DropDownloads: []model.UID{5}}},
		{name: "local file with other content than the interrupted download is uploaded",
			dls:   []model.DownloadIntent{{UID: 5, Fingerprint: "x", Hash: "h1"}},
			local: []model.LocalMsg{lmh("k", 0, "x", "h2")},
			want:  Plan{Upload: []Upload{{Key: "k"}}, DropDownloads: []model.UID{5}}},
		{name: "intent whose file is gone expunges its upload", intents: []model.Intent{{Key: "gone", Fingerprint: "x"}, {Key: "k"}},
			remote: []model.RemoteMsg{rm(2, 0, "x")}, local: []model.LocalMsg{lm("k", 0, "")},
			want: Plan{ExpungeRemote: []Ref{{2, "gone"}}, DropIntents: []string{"gone", "k"}, Upload: []Upload{{Key: "k"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{Folder: "F", State: &model.FolderState{Pairs: tt.pairs, Intents: tt.intents, Downloads: tt.dls}, Remote: tt.remote, Local: tt.local}
			var got Plan
			PairByContent(&got, in, tt.pairs, tt.oldBase)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNeedHashes(t *testing.T) {
	tests := []struct {
		name       string
		pairs      []model.Pair
		intents    []model.Intent
		remote     []model.RemoteMsg
		local      []model.LocalMsg
		wantRemote []model.UID
		wantLocal  []string
	}{
		{name: "candidates on both sides",
			remote: []model.RemoteMsg{rmh(1, 0, "x", ""), rmh(2, 0, "y", "")}, local: []model.LocalMsg{lmh("a", 0, "x", ""), lmh("b", 0, "z", "")},
			wantRemote: []model.UID{1}, wantLocal: []string{"a"}},
		{name: "paired messages are not hashed", pairs: []model.Pair{pr(1, "a", 0)},
			remote: []model.RemoteMsg{rmh(1, 0, "x", ""), rmh(2, 0, "x", "")}, local: []model.LocalMsg{lmh("a", 0, "x", "")}},
		{name: "an intent whose file is gone makes a server candidate",
			intents: []model.Intent{{Key: "gone", Fingerprint: "x"}},
			remote:  []model.RemoteMsg{rmh(1, 0, "x", "")}, wantRemote: []model.UID{1}},
		{name: "hashes already known are not asked again",
			remote: []model.RemoteMsg{rmh(1, 0, "x", "h")}, local: []model.LocalMsg{lmh("a", 0, "x", "h")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Input{Folder: "F", State: &model.FolderState{UIDValidity: 1, Pairs: tt.pairs, Intents: tt.intents}, UIDValidity: 1,
				Remote: tt.remote, Local: tt.local}
			r, l := NeedHashes(in)
			if !slices.Equal(r, tt.wantRemote) || !slices.Equal(l, tt.wantLocal) {
				t.Fatalf("got %v %v, want %v %v", r, l, tt.wantRemote, tt.wantLocal)
			}
		})
	}
}

func TestGuardMassDeletion(t *testing.T) {
	refs := func(n int) []Ref {
		out := make([]Ref, n)
		for i := range out {
			out[i] = Ref{model.UID(i + 1), "k"}
		}
		return out
	}
	tests := []struct {
		name             string
		expunge, del     int
		total            int
		allow            bool
		held             []model.UID
		keptExp, keptDel int
		blocked          int
		wantHeld         []model.UID
	}{
		{name: "below the minimum", expunge: 4, total: 4, keptExp: 4},
		{name: "half is not more than half", expunge: 5, total: 10, keptExp: 5},
		{name: "most of the server side", expunge: 6, total: 10, blocked: 1, wantHeld: []model.UID{1, 2, 3, 4, 5, 6}},
		{name: "most of the local side", del: 5, total: 5, blocked: 1, wantHeld: []model.UID{1, 2, 3, 4, 5}},
		{name: "both sides", expunge: 5, del: 5, total: 9, blocked: 2, wantHeld: []model.UID{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
		{name: "allowed", expunge: 5, del: 5, total: 5, allow: true, keptExp: 5, keptDel: 5},
		// Issue 8 case 2: held back in the first pass (6 of 10), the
		// same deletions are not half of the 12 pairs after two uploads:
		// they stay held.
		{name: "held before, no longer most", del: 6, total: 12, held: []model.UID{1, 2, 3, 4, 5, 6}, blocked: 1, wantHeld: []model.UID{1, 2, 3, 4, 5, 6}},
		{name: "one held, one more gone", del: 2, total: 12, held: []model.UID{1}, blocked: 1, wantHeld: []model.UID{1, 2}},
		{name: "held on the other side only", expunge: 2, total: 12, held: []model.UID{7}, keptExp: 2},
		{name: "held, then allowed", del: 6, total: 12, held: []model.UID{1, 2, 3, 4, 5, 6}, allow: true, keptDel: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Folder: "F", ExpungeRemote: refs(tt.expunge), DeleteLocal: refs(tt.del)}
			GuardMassDeletion(p, tt.total, tt.held, tt.allow)
			if len(p.ExpungeRemote) != tt.keptExp || len(p.DeleteLocal) != tt.keptDel || len(p.Blocked) != tt.blocked {
				t.Fatalf("kept %d/%d, blocked %q", len(p.ExpungeRemote), len(p.DeleteLocal), p.Blocked)
			}
			if !slices.Equal(p.HeldBack, tt.wantHeld) {
				t.Fatalf("held back %v, want %v", p.HeldBack, tt.wantHeld)
			}
		})
	}
}

func TestFolders(t *testing.T) {
	rf := func(name string) model.RemoteFolder { return model.RemoteFolder{Name: name} }
	tests := []struct {
		name        string
		in          FolderInput
		want        []FolderDecision
		wantAllMail []string
	}{
		{name: "empty account, new Maildir", want: []FolderDecision{{"INBOX", CreateInbox}}},
		{name: "on both sides", in: FolderInput{Remote: []model.RemoteFolder{rf("INBOX")}, Local: []string{"INBOX"}},
			want: []FolderDecision{{"INBOX", Sync}}},
		{name: "new either side", in: FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("A")}, Local: []string{"INBOX", "B"}},
			want: []FolderDecision{{"A", CreateLocal}, {"B", CreateRemote}, {"INBOX", Sync}}},
		{name: "vanished from one side is skipped, from both forgotten",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("A")}, Local: []string{"INBOX", "B"}, Known: []string{"INBOX", "A", "B", "C"}},
			want: []FolderDecision{{"A", SkipLocalGone}, {"B", SkipRemoteGone}, {"C", Forget}, {"INBOX", Sync}}},
		{name: "excluded on any side",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("Junk"), rf("Lists/x")}, Local: []string{"INBOX", "Lists/y"}, Known: []string{"Junk"}, Selection: mustSelection(t, nil, []string{"Junk", "Lists/*"})},
			want: []FolderDecision{{"INBOX", Sync}}},
		{name: "an excluded folder takes its subfolders with it",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("Archive"), rf("Archive/2002")}, Local: []string{"INBOX"}, Selection: mustSelection(t, nil, []string{"Archive"})},
			want: []FolderDecision{{"INBOX", Sync}}},
		{name: "ordered folder patterns, last match wins",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("Trash"), rf("Lists/a"), rf("Lists/b")}, Local: []string{"INBOX"}, Selection: mustSelection(t, []string{"*", "!Trash", "!Lists/*", "Lists/b"}, nil)},
			want: []FolderDecision{{"INBOX", Sync}, {"Lists/b", CreateLocal}}},
		{name: "Noselect level with local mail",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), {Name: "L", NoSelect: true}}, Local: []string{"INBOX", "L"}},
			want: []FolderDecision{{"INBOX", Sync}, {"L", SkipNoSelect}}},
		{name: "All Mail left out unless asked",
			in:          FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), {Name: "All", SpecialUse: `\All`}}, Local: []string{"INBOX"}},
			want:        []FolderDecision{{"INBOX", Sync}},
			wantAllMail: []string{"All"}},
		{name: "All Mail included",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), {Name: "All", SpecialUse: `\All`}}, Local: []string{"INBOX"}, IncludeAllMail: true},
			want: []FolderDecision{{"All", CreateLocal}, {"INBOX", Sync}}},
		{name: "a local name holding the server's delimiter is refused, not split (issue 8 case 6)",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("v1")}, Local: []string{"INBOX", "v1.2", "a/b.c", "x.y"}, Known: []string{"x.y"}, Delimiter: "."},
			want: []FolderDecision{{"INBOX", Sync}, {"a/b.c", SkipUnrepresentable}, {"v1", CreateLocal}, {"v1.2", SkipUnrepresentable}, {"x.y", SkipUnrepresentable}}},
		{name: "a new local name differing from another only in case is refused (issue 8 case 7)",
			in: FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("INBOX/sub"), rf("Foo")},
				Local: []string{"INBOX", "Inbox/sub", "foo", "Bar", "bar", "inbox/new"}},
			want: []FolderDecision{{"Bar", SkipCaseClash}, {"Foo", CreateLocal}, {"INBOX", Sync}, {"INBOX/sub", CreateLocal},
				{"Inbox/sub", SkipCaseClash}, {"bar", SkipCaseClash}, {"foo", SkipCaseClash}, {"inbox/new", SkipCaseClash}}},
		{name: "server names differing only in case stay distinct folders",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX"), rf("INBOX/sub"), rf("Inbox/sub"), rf("Foo"), rf("foo")}, Local: []string{"INBOX"}},
			want: []FolderDecision{{"Foo", CreateLocal}, {"INBOX", Sync}, {"INBOX/sub", CreateLocal}, {"Inbox/sub", CreateLocal}, {"foo", CreateLocal}}},
		{name: "dots are fine when the delimiter is /",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX")}, Local: []string{"INBOX", "v1.2"}, Delimiter: "/"},
			want: []FolderDecision{{"INBOX", Sync}, {"v1.2", CreateRemote}}},
		{name: "a flat server cannot hold levels",
			in:   FolderInput{Remote: []model.RemoteFolder{rf("INBOX")}, Local: []string{"INBOX", "a/b", "c"}, Delimiter: ""},
			want: []FolderDecision{{"INBOX", Sync}, {"a/b", CreateRemote}, {"c", CreateRemote}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, allMail := Folders(tt.in)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(allMail, tt.wantAllMail) {
				t.Fatalf("got %v %v\nwant %v %v", got, allMail, tt.want, tt.wantAllMail)
			}
		})
	}
}

func TestListing(t *testing.T) {
	st := &model.FolderState{UIDValidity: 5, UIDNext: 10, HighestModSeq: 100, Pairs: []model.Pair{pr(1, "a", 0), pr(2, "b", S)}}
	same := model.FolderStatus{UIDValidity: 5, UIDNext: 10, Messages: 2, HighestModSeq: 100}
	tests := []struct {
		name      string
		condStore bool
		st        *model.FolderState
		s         model.FolderStatus
		want      ListingMode
	}{
		{name: "no CONDSTORE", st: st, s: same, want: ListFull},
		{name: "never recorded", condStore: true, st: &model.FolderState{UIDValidity: 5, Pairs: st.Pairs}, s: same, want: ListFull},
		{name: "NOMODSEQ", condStore: true, st: st, s: model.FolderStatus{UIDValidity: 5, UIDNext: 10, Messages: 2}, want: ListFull},
		{name: "UIDVALIDITY changed", condStore: true, st: st, s: model.FolderStatus{UIDValidity: 6, UIDNext: 10, Messages: 2, HighestModSeq: 100}, want: ListFull},
		{name: "untouched", condStore: true, st: st, s: same, want: ListFromState},
		{name: "flags changed", condStore: true, st: st, s: model.FolderStatus{UIDValidity: 5, UIDNext: 10, Messages: 2, HighestModSeq: 101}, want: ListChanged},
		{name: "a message expunged, modseq not moved", condStore: true, st: st, s: model.FolderStatus{UIDValidity: 5, UIDNext: 10, Messages: 1, HighestModSeq: 100}, want: ListChanged},
		{name: "a message added", condStore: true, st: st, s: model.FolderStatus{UIDValidity: 5, UIDNext: 11, Messages: 3, HighestModSeq: 100}, want: ListChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Listing(tt.condStore, tt.st, tt.s); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	st := &model.FolderState{Pairs: []model.Pair{pr(1, "a", 0), pr(2, "b", S)}}
	if got := FromState(st); !reflect.DeepEqual(got, []model.RemoteMsg{{UID: 1}, {UID: 2, Flags: S}}) {
		t.Fatalf("from state: %v", got)
	}
	got, ok := Merge(st, []model.RemoteMsg{rm(2, F, ""), rm(3, S, "")}, []model.UID{3, 2})
	if !ok || !reflect.DeepEqual(got, []model.RemoteMsg{{UID: 2, Flags: F, Size: 100}, {UID: 3, Flags: S, Size: 100}}) {
		t.Fatalf("merge: %v %v", got, ok)
	}
	// An empty server folder lists nothing, whatever the state holds.
	if got, ok := Merge(st, nil, nil); !ok || len(got) != 0 {
		t.Errorf("Merge with no server UIDs = %v, %v; want an empty listing", got, ok)
	}
	if _, ok := Merge(st, nil, []model.UID{1, 4}); ok {
		t.Fatal("an unknown UID must ask for a full listing")
	}
}

func TestRecordMeta(t *testing.T) {
	st := &model.FolderState{UIDValidity: 5, UIDNext: 10, HighestModSeq: 100}
	tests := []struct {
		name      string
		condStore bool
		s         model.FolderStatus
		want      *model.Meta
	}{
		{name: "unchanged", condStore: true, s: model.FolderStatus{UIDValidity: 5, UIDNext: 10, HighestModSeq: 100}},
		{name: "moved on with CONDSTORE", condStore: true, s: model.FolderStatus{UIDValidity: 5, UIDNext: 12, HighestModSeq: 130},
			want: &model.Meta{UIDValidity: 5, UIDNext: 12, HighestModSeq: 130}},
		{name: "UIDNEXT moved without CONDSTORE is not rewritten", s: model.FolderStatus{UIDValidity: 5, UIDNext: 12}},
		{name: "new UIDVALIDITY without CONDSTORE", s: model.FolderStatus{UIDValidity: 6, UIDNext: 3},
			want: &model.Meta{UIDValidity: 6, UIDNext: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RecordMeta(tt.condStore, st, tt.s); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := RecordMeta(false, &model.FolderState{}, model.FolderStatus{UIDValidity: 1, UIDNext: 2}); got == nil || got.UIDValidity != 1 {
		t.Fatalf("never synced: %+v", got)
	}
}

func mustSelection(t *testing.T, folders, exclude []string) *folderpat.Set {
	t.Helper()
	s, err := folderpat.New(folders, exclude)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A flag the server cannot store (case 10: $Forwarded on GNU Mailutils)
// takes no part in the merge: it keeps its Maildir value and is never
// part of what the server is brought to.
func TestFlagSyncUnkept(t *testing.T) {
	P := model.FlagPassed
	tests := []struct {
		name       string
		base, r, l model.Flags
		want       []FlagSync
		server     model.Flags
	}{
		{name: "set locally only: nothing to do once recorded", base: S | P, r: S, l: S | P},
		{name: "set locally, first seen", base: S, r: S, l: S | P,
			want: []FlagSync{{UID: 1, Key: "a", Base: S, Remote: S, Local: S | P, Target: S | P}}, server: S},
		{name: "other flags still merge", base: S | P, r: S | F, l: S | P,
			want: []FlagSync{{UID: 1, Key: "a", Base: S | P, Remote: S | F, Local: S | P, Target: S | F | P}}, server: S | F},
		{name: "cleared locally", base: S | P, r: S, l: S,
			want: []FlagSync{{UID: 1, Key: "a", Base: S | P, Remote: S, Local: S, Target: S}}, server: S},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan{Unkept: P}
			DiffPairs(&got, []model.Pair{pr(1, "a", tt.base)},
				RemoteMap(map[model.UID]model.RemoteMsg{1: rm(1, tt.r, "")}), LocalMap(map[string]model.LocalMsg{"a": lm("a", tt.l, "")}))
			if !reflect.DeepEqual(got.Flags, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got.Flags, tt.want)
			}
			if len(got.Flags) == 1 {
				if s := got.Flags[0].ServerTarget(P); s != tt.server {
					t.Fatalf("server target %v, want %v", s, tt.server)
				}
			}
		})
	}
}
