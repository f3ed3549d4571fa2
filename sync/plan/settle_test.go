package plan

import (
	"testing"

	"github.com/mailsync/mailsync/model"
)

// Settled accepts exactly a server folder that holds what the pass left:
// any other client's APPEND, EXPUNGE, flag or keyword change, or a
// changed UIDVALIDITY, sends the engine to a whole settling pass.
func TestSettled(t *testing.T) {
	before := model.FolderStatus{UIDValidity: 7, UIDNext: 100, Messages: 50, HighestModSeq: 1000}
	after := model.FolderStatus{UIDValidity: 7, UIDNext: 102, Messages: 51, HighestModSeq: 1010}
	pairs := []model.Pair{
		{UID: 5, Key: "a", Flags: model.FlagSeen},                                       // flags stored by the pass
		{UID: 100, Key: "b", Flags: model.FlagSeen | model.FlagFlagged},                 // uploaded
		{UID: 101, Key: "c", Keywords: model.NewKeywords("$Label1")},                    // uploaded
		{UID: 6, Key: "d", Flags: model.FlagSeen | model.FlagDraft, Keywords: nil},      // unkept \Draft stays local
		{UID: 7, Key: "e", Keywords: model.NewKeywords("Local"), Flags: model.FlagSeen}, // a keyword the server cannot keep
	}
	changed := []model.RemoteMsg{
		{UID: 5, Flags: model.FlagSeen},
		{UID: 100, Flags: model.FlagSeen | model.FlagFlagged},
		{UID: 101, Keywords: model.NewKeywords("$label1")},
		{UID: 6, Flags: model.FlagSeen},
		{UID: 7, Flags: model.FlagSeen},
	}
	rule := model.KeywordRule{Restricted: true, Listed: model.NewKeywords("$Label1")}
	base := func() SettleInput {
		return SettleInput{Before: before, After: after, Uploaded: []model.UID{100, 101}, Expunged: 1,
			Changed: append([]model.RemoteMsg(nil), changed...), Pairs: pairs, Unkept: model.FlagDraft, Keywords: rule}
	}
	tests := []struct {
		name   string
		change func(*SettleInput)
		want   bool
	}{
		{"just what the pass did", func(*SettleInput) {}, true},
		{"nothing changed", func(in *SettleInput) {
			in.After, in.Uploaded, in.Expunged, in.Changed = in.Before, nil, 0, nil
		}, true},
		{"another client appended", func(in *SettleInput) { in.After.UIDNext, in.After.Messages = 103, 52 }, false},
		{"another client appended and expunged", func(in *SettleInput) { in.After.UIDNext = 103 }, false},
		{"another client expunged", func(in *SettleInput) { in.After.Messages = 50 }, false},
		{"another client changed flags", func(in *SettleInput) { in.Changed[0].Flags = model.FlagFlagged }, false},
		{"another client changed a keyword", func(in *SettleInput) { in.Changed[2].Keywords = nil }, false},
		{"a changed message without a pair", func(in *SettleInput) {
			in.Changed = append(in.Changed, model.RemoteMsg{UID: 9, Flags: model.FlagSeen})
		}, false},
		{"UIDVALIDITY changed", func(in *SettleInput) { in.After.UIDValidity = 8 }, false},
		{"no HIGHESTMODSEQ", func(in *SettleInput) { in.After.HighestModSeq = 0 }, false},
		{"an upload below UIDNEXT", func(in *SettleInput) { in.Uploaded = []model.UID{99, 101} }, false},
	}
	for _, tt := range tests {
		in := base()
		tt.change(&in)
		if got := Settled(in); got != tt.want {
			t.Errorf("%s: Settled = %v, want %v", tt.name, got, tt.want)
		}
	}
}
