package plan

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/mailsync/mailsync/model"
)

func kws(names ...string) model.Keywords { return model.NewKeywords(names...) }

// Keywords merge keyword by keyword against the pair's base, like flags
// (issue 8 case 15); a keyword the server cannot store keeps its Maildir
// value and is not sent; one the Maildir has no letter for keeps the
// server's value and is not written locally.
func TestFlagSyncKeywords(t *testing.T) {
	restricted := model.KeywordRule{Restricted: true, Listed: kws("$Label1")}
	tests := []struct {
		name       string
		rule       model.KeywordRule
		full       model.Keywords
		base, r, l model.Keywords
		none       bool // no FlagSync
		target     model.Keywords
		server     model.Keywords
		maildir    model.Keywords
	}{
		{name: "unchanged", base: kws("$Label1"), r: kws("$Label1"), l: kws("$Label1"), none: true},
		{name: "added on the server", base: nil, r: kws("$Junk"), l: nil,
			target: kws("$Junk"), server: kws("$Junk"), maildir: kws("$Junk")},
		{name: "added locally", base: nil, r: nil, l: kws("Important"),
			target: kws("Important"), server: kws("Important"), maildir: kws("Important")},
		{name: "removed on the server, another added locally", base: kws("$Label1"), r: nil, l: kws("$Label1", "NonJunk"),
			target: kws("NonJunk"), server: kws("NonJunk"), maildir: kws("NonJunk")},
		{name: "case does not matter", base: kws("$label1"), r: kws("$Label1"), l: kws("$LABEL1"), none: true},
		{name: "server cannot store it: stays local, not sent", rule: restricted, base: nil, r: nil, l: kws("$Junk"),
			target: kws("$Junk"), server: nil, maildir: kws("$Junk")},
		{name: "server cannot store it, recorded: nothing to do", rule: restricted, base: kws("$Junk"), r: nil, l: kws("$Junk"), none: true},
		{name: "restricted server still keeps a listed keyword", rule: restricted, base: nil, r: nil, l: kws("$Label1"),
			target: kws("$Label1"), server: kws("$Label1"), maildir: kws("$Label1")},
		{name: "no letter left: stays on the server, not written", full: kws("Overflow"), base: nil, r: kws("Overflow", "a"), l: kws("a"),
			target: kws("a", "Overflow"), server: kws("a", "Overflow"), maildir: kws("a")},
		{name: "no letter left, recorded: nothing to do", full: kws("Overflow"), base: kws("Overflow"), r: kws("Overflow"), l: nil, none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan{Keywords: tt.rule, LocalFull: tt.full}
			DiffPairs(&p, []model.Pair{{UID: 1, Key: "a", Keywords: tt.base}},
				RemoteMap(map[model.UID]model.RemoteMsg{1: {UID: 1, Keywords: tt.r}}), LocalMap(map[string]model.LocalMsg{"a": {Key: "a", Keywords: tt.l}}))
			if tt.none {
				if len(p.Flags) != 0 {
					t.Fatalf("want nothing, got %+v", p.Flags)
				}
				return
			}
			if len(p.Flags) != 1 {
				t.Fatalf("got %+v", p.Flags)
			}
			s := p.Flags[0]
			if !s.KwTarget.Equal(tt.target) || !s.KwServer.Equal(tt.server) || !s.KwMaildir.Equal(tt.maildir) {
				t.Fatalf("target %v server %v maildir %v, want %v %v %v", s.KwTarget, s.KwServer, s.KwMaildir, tt.target, tt.server, tt.maildir)
			}
		})
	}
}

// Pairs made by content start from the keywords both sides have, or
// from the keywords agreed before a UIDVALIDITY change.
func TestPairByContentKeywords(t *testing.T) {
	r := rm(3, 0, "x")
	r.Keywords = kws("$Label1", "$Junk")
	l := lm("k", 0, "x")
	l.Keywords = kws("$Label1")
	in := &Input{Folder: "F", State: &model.FolderState{}, Remote: []model.RemoteMsg{r}, Local: []model.LocalMsg{l}}
	var got Plan
	PairByContent(&got, in, nil, nil)
	if len(got.Pair) != 1 || !got.Pair[0].BaseKw.Equal(kws("$Label1")) || len(got.Flags) != 1 || !got.Flags[0].KwMaildir.Equal(kws("$Label1", "$Junk")) {
		t.Fatalf("got %+v", got)
	}
	// After a reset the old base holds: $Junk was removed locally.
	in.State = &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{{UID: 9, Key: "k", Keywords: kws("$Label1", "$Junk")}}}
	in.UIDValidity = 2
	got = Plan{}
	PairByContent(&got, in, nil, map[string]model.Flags{"k": 0})
	if len(got.Pair) != 1 || !got.Pair[0].BaseKw.Equal(kws("$Label1", "$Junk")) || len(got.Flags) != 1 || !got.Flags[0].KwServer.Equal(kws("$Label1")) {
		t.Fatalf("after reset: got %+v", got)
	}
}

// Issue 8 case 16: an edited file replaces its message; a touched file
// only gets its new size and mtime recorded.
func TestEdits(t *testing.T) {
	stored := model.Pair{UID: 1, Key: "a", Size: 10, ModTime: 100, Hash: "h1", Fingerprint: "f1"}
	old := model.Pair{UID: 1, Key: "a"} // recorded before content fields
	tests := []struct {
		name     string
		pairs    []model.Pair
		remote   []model.RemoteMsg
		local    []model.LocalMsg
		want     Plan
		wantKeep []model.UID
	}{
		{name: "unchanged, not read", pairs: []model.Pair{stored}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 100}}, wantKeep: []model.UID{1}},
		{name: "touched: same content, new mtime recorded", pairs: []model.Pair{stored}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 200, Hash: "h1", Fingerprint: "f1", WireSize: 11}},
			want:  Plan{UpdatePairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 200, Hash: "h1", Fingerprint: "f1"}}}, wantKeep: []model.UID{1}},
		{name: "edited: replaced", pairs: []model.Pair{stored}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 12, ModTime: 200, Hash: "h2", Fingerprint: "f2", WireSize: 13}},
			want:  Plan{Replace: []Ref{{1, "a"}}}},
		{name: "edited, gone from the server: pair dropped", pairs: []model.Pair{stored},
			local: []model.LocalMsg{{Key: "a", Size: 12, ModTime: 200, Hash: "h2", Fingerprint: "f2", WireSize: 13}},
			want:  Plan{DropPairs: []model.UID{1}}},
		{name: "old pair, same size as the server: content recorded", pairs: []model.Pair{old}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 100, Hash: "h1", Fingerprint: "f1", WireSize: 11}},
			want:  Plan{UpdatePairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 100, Hash: "h1", Fingerprint: "f1"}}}, wantKeep: []model.UID{1}},
		{name: "old pair, size not the server's: edited", pairs: []model.Pair{old}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 12, ModTime: 100, Hash: "h2", Fingerprint: "f2", WireSize: 13}},
			want:  Plan{Replace: []Ref{{1, "a"}}}},
		{name: "inode unknown to the pair, stat'ed unchanged: inode recorded", pairs: []model.Pair{stored}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 100, Ino: 7}},
			want:  Plan{UpdatePairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 100, Ino: 7, Hash: "h1", Fingerprint: "f1"}}}, wantKeep: []model.UID{1}},
		{name: "inode unknown to the pair, not stat'ed: nothing recorded", pairs: []model.Pair{stored}, remote: []model.RemoteMsg{{UID: 1, Size: 11}},
			local: []model.LocalMsg{{Key: "a", Size: -1, Ino: 7}}, wantKeep: []model.UID{1}},
		{name: "replaced by a rename, same content: new inode recorded", pairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 100, Ino: 7, Hash: "h1", Fingerprint: "f1"}},
			remote: []model.RemoteMsg{{UID: 1, Size: 11}}, local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 300, Ino: 8, Hash: "h1", Fingerprint: "f1", WireSize: 11}},
			want: Plan{UpdatePairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 300, Ino: 8, Hash: "h1", Fingerprint: "f1"}}}, wantKeep: []model.UID{1}},
		{name: "two pairs name one key: the older is replaced", pairs: []model.Pair{stored, {UID: 5, Key: "a", Size: 10, ModTime: 100, Hash: "h1"}},
			remote: []model.RemoteMsg{{UID: 1}, {UID: 5}}, local: []model.LocalMsg{{Key: "a", Size: 10, ModTime: 100}},
			want: Plan{Replace: []Ref{{1, "a"}}}, wantKeep: []model.UID{5}},
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
			kept := Edits(&got, tt.pairs, RemoteMap(remote), LocalMap(local))
			var keptUIDs []model.UID
			for _, p := range kept {
				keptUIDs = append(keptUIDs, p.UID)
			}
			if !reflect.DeepEqual(got, tt.want) || !slices.Equal(keptUIDs, tt.wantKeep) {
				t.Fatalf("got %+v kept %v\nwant %+v kept %v", got, keptUIDs, tt.want, tt.wantKeep)
			}
		})
	}
}

// Build with an edited file: the old UID is replaced, the file uploaded;
// or paired with its new copy already on the server (a run that stopped
// after the upload).
func TestBuildEdited(t *testing.T) {
	st := &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{{UID: 1, Key: "a", Size: 10, ModTime: 100, Hash: "h1", Fingerprint: "f1"}}}
	edited := model.LocalMsg{Key: "a", Flags: S, Size: 12, ModTime: 200, Hash: "h2", Fingerprint: "f2", WireSize: 13}
	in := &Input{Folder: "F", State: st, UIDValidity: 1, Remote: []model.RemoteMsg{{UID: 1, Size: 11}}, Local: []model.LocalMsg{edited}}
	if got := NeedEditCheck(&Input{Folder: "F", State: st, UIDValidity: 1, Local: []model.LocalMsg{{Key: "a", Size: 12, ModTime: 200}}}); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("NeedEditCheck %v", got)
	}
	if _, l := NeedFingerprints(in); l != nil {
		t.Fatalf("fingerprints asked for with nothing to pair with: %v", l)
	}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{Folder: "F", Replace: []Ref{{1, "a"}}, Upload: []Upload{{Key: "a", Flags: S}}}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v\nwant %+v", *p, want)
	}
	// The new content is already on the server as uid 2: paired, not
	// uploaded again.
	in.Remote = append(in.Remote, model.RemoteMsg{UID: 2, Size: 13, Fingerprint: "f2", Hash: "h2"})
	in.Remote[1].Fingerprint, in.Local[0].Fingerprint = "", ""
	if r, l := NeedFingerprints(in); !slices.Equal(r, []model.UID{2}) || !slices.Equal(l, []string{"a"}) {
		t.Fatalf("NeedFingerprints %v %v: the edited file is unpaired", r, l)
	}
	in.Remote[1].Fingerprint, in.Local[0].Fingerprint = "f2", "f2"
	p, err = Build(in)
	if err != nil {
		t.Fatal(err)
	}
	want = Plan{Folder: "F", Replace: []Ref{{1, "a"}}, Pair: []NewPair{{UID: 2, Key: "a"}},
		Flags: []FlagSync{{UID: 2, Key: "a", Base: 0, Remote: 0, Local: S, Target: S}}}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v\nwant %+v", *p, want)
	}
	// Most of a folder edited at once: the guard holds the expunges.
	var pairs []model.Pair
	var remote []model.RemoteMsg
	var local []model.LocalMsg
	for i := 1; i <= 6; i++ {
		k := string(rune('a' + i))
		pairs = append(pairs, model.Pair{UID: model.UID(i), Key: k, Size: 10, ModTime: 100, Hash: "old"})
		remote = append(remote, model.RemoteMsg{UID: model.UID(i)})
		local = append(local, model.LocalMsg{Key: k, Size: 10, ModTime: 200, Hash: "new" + k})
	}
	p, err = Build(&Input{Folder: "F", State: &model.FolderState{UIDValidity: 1, Pairs: pairs}, UIDValidity: 1, Remote: remote, Local: local})
	if err != nil || len(p.Replace) != 0 || len(p.Upload) != 6 || len(p.HeldBack) != 6 || len(p.Blocked) != 1 {
		t.Fatalf("mass edit: %v %+v", err, p)
	}
}

// Issue 8 case 8: after a UIDVALIDITY change, a message deleted locally
// is found on the server by the content its pair remembers and expunged.
func TestValidityResetWithLocalDeletion(t *testing.T) {
	gone := model.Pair{UID: 1, Key: "gone", Hash: "h1", Fingerprint: "f1"}
	kept := model.Pair{UID: 2, Key: "kept", Hash: "h2", Fingerprint: "f2"}
	in := &Input{Folder: "F", State: &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{gone, kept}}, UIDValidity: 7,
		Remote: []model.RemoteMsg{{UID: 10, Fingerprint: "f1"}, {UID: 11, Fingerprint: "f2"}},
		Local:  []model.LocalMsg{{Key: "kept", Fingerprint: "f2"}}}
	if r, _ := NeedHashes(in); !slices.Equal(r, []model.UID{10, 11}) {
		t.Fatalf("NeedHashes: %v", r)
	}
	in.Remote[0].Hash, in.Remote[1].Hash, in.Local[0].Hash = "h1", "h2", "h2"
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{Folder: "F", ResetPairs: true, Pair: []NewPair{{UID: 11, Key: "kept"}}, ExpungeRemote: []Ref{{10, "gone"}}}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v\nwant %+v", *p, want)
	}
	// Every local file gone: fingerprints are still asked for.
	in.Local = nil
	in.Remote[0].Hash, in.Remote[1].Hash = "", ""
	in.Remote[0].Fingerprint, in.Remote[1].Fingerprint = "", ""
	if r, _ := NeedFingerprints(in); !slices.Equal(r, []model.UID{10, 11}) {
		t.Fatalf("NeedFingerprints: %v", r)
	}
	// A pair from an older version remembers no content: refused.
	in.State.Pairs[0] = model.Pair{UID: 1, Key: "gone"}
	if _, err := ValidityReset(in); !errors.Is(err, ErrValidityConflict) {
		t.Fatalf("no content: %v", err)
	}
	// Most of the folder deleted: the guard refuses, unless allowed.
	var pairs []model.Pair
	for i := 1; i <= 6; i++ {
		pairs = append(pairs, model.Pair{UID: model.UID(i), Key: string(rune('a' + i)), Hash: "h", Fingerprint: "f"})
	}
	in = &Input{Folder: "F", State: &model.FolderState{UIDValidity: 1, Pairs: pairs}, UIDValidity: 7,
		Local: []model.LocalMsg{{Key: "b"}}, Remote: []model.RemoteMsg{{UID: 20}}}
	if _, err := ValidityReset(in); !errors.Is(err, ErrValidityConflict) {
		t.Fatalf("mass deletion: %v", err)
	}
	in.AllowMassDelete = true
	if r, err := ValidityReset(in); err != nil || len(r.Gone) != 5 {
		t.Fatalf("allowed: %v %+v", err, r)
	}
}

// After a UIDVALIDITY change, when the server folder still holds a
// message paired before (found by content: the server renumbered the
// folder), a message paired before, unchanged in the Maildir since,
// whose content is not on the server was deleted there: the file is
// deleted too. A file changed since is uploaded. When the server folder
// holds none of the messages paired before, empty or not, it was
// deleted and created again: it starts over and nothing in the Maildir
// is deleted, even when mail reached the new folder before this run.
func TestValidityResetWithServerDeletion(t *testing.T) {
	st := &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{
		{UID: 1, Key: "same", Size: 10, ModTime: 100, Hash: "h1", Fingerprint: "f1"},
		{UID: 2, Key: "touched", Size: 10, ModTime: 100, Hash: "h2", Fingerprint: "f2"},
		{UID: 3, Key: "old", Flags: S},
		{UID: 4, Key: "kept", Size: 10, ModTime: 100, Hash: "h4", Fingerprint: "f4"}}}
	in := &Input{Folder: "F", State: st, UIDValidity: 7, Local: []model.LocalMsg{
		{Key: "same", Size: 10, ModTime: 100}, {Key: "touched", Size: 10, ModTime: 200}, {Key: "old", Size: 10, ModTime: 100},
		{Key: "kept", Size: 10, ModTime: 100, Hash: "h4", Fingerprint: "f4"}},
		Remote: []model.RemoteMsg{{UID: 9, Size: 5, Fingerprint: "f9", Hash: "h9"}, {UID: 10, Size: 10, Fingerprint: "f4", Hash: "h4"}}}
	p, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{Folder: "F", ResetPairs: true, Pair: []NewPair{{UID: 10, Key: "kept"}}, DeleteLocal: []Ref{{0, "same"}}, Download: []Download{{UID: 9, Size: 5}},
		Upload: []Upload{{Key: "old"}, {Key: "touched"}}}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v\nwant %+v", *p, want)
	}
	startOver := Plan{Folder: "F", ResetPairs: true, Upload: []Upload{{Key: "kept"}, {Key: "old"}, {Key: "same"}, {Key: "touched"}}}
	// Deleted and created again, and a message delivered to the new
	// folder before this run: none of the old ones is there.
	in.Remote = in.Remote[:1]
	if p, err = Build(in); err != nil {
		t.Fatal(err)
	}
	startOver.Download = []Download{{UID: 9, Size: 5}}
	if !reflect.DeepEqual(*p, startOver) {
		t.Fatalf("recreated server folder with new mail: got %+v\nwant %+v", *p, startOver)
	}
	// An empty server folder (deleted and created again).
	in.Remote = nil
	if p, err = Build(in); err != nil {
		t.Fatal(err)
	}
	startOver.Download = nil
	if !reflect.DeepEqual(*p, startOver) {
		t.Fatalf("empty server: got %+v\nwant %+v", *p, startOver)
	}
}

// NeedEditCheck reads a paired file when its stat (size, mtime) is not
// the pair's, or, without a stat, when the directory gives it another
// inode than the pair's (saved again by a rename over its name); a file
// not stat'ed with the pair's inode, or an unknown one, is not read.
func TestNeedEditCheck(t *testing.T) {
	st := &model.FolderState{UIDValidity: 1, Pairs: []model.Pair{
		{UID: 1, Key: "a", Size: 10, ModTime: 100, Ino: 7},
		{UID: 2, Key: "b", Size: 10, ModTime: 100},
		{UID: 3, Key: "c"},
	}}
	tests := []struct {
		name  string
		local model.LocalMsg
		read  bool
	}{
		{"stat'ed, unchanged", model.LocalMsg{Key: "a", Size: 10, ModTime: 100, Ino: 7}, false},
		{"stat'ed, new mtime", model.LocalMsg{Key: "a", Size: 10, ModTime: 200, Ino: 7}, true},
		{"stat'ed, new size", model.LocalMsg{Key: "a", Size: 11, ModTime: 100, Ino: 7}, true},
		{"not stat'ed, same inode", model.LocalMsg{Key: "a", Size: -1, Ino: 7}, false},
		{"not stat'ed, another inode", model.LocalMsg{Key: "a", Size: -1, Ino: 8}, true},
		{"not stat'ed, inode unknown to the listing", model.LocalMsg{Key: "a", Size: -1}, false},
		{"not stat'ed, inode unknown to the pair", model.LocalMsg{Key: "b", Size: -1, Ino: 8}, false},
		{"stat'ed, the pair remembers no content", model.LocalMsg{Key: "c", Size: 10, ModTime: 100, Ino: 8}, true},
		{"not stat'ed, the pair remembers no content", model.LocalMsg{Key: "c", Size: 10, Ino: 8}, false},
		{"read already", model.LocalMsg{Key: "a", Size: 10, ModTime: 200, Ino: 8, Hash: "h"}, false},
		{"not paired", model.LocalMsg{Key: "z", Size: 10, ModTime: 200, Ino: 8}, false},
	}
	for _, tt := range tests {
		got := NeedEditCheck(&Input{Folder: "F", State: st, UIDValidity: 1, Local: []model.LocalMsg{tt.local}})
		if (len(got) == 1) != tt.read {
			t.Errorf("%s: NeedEditCheck %v, want read %v", tt.name, got, tt.read)
		}
	}
}
