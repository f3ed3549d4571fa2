package plan

import (
	"slices"
	"testing"

	"github.com/mailsync/mailsync/model"
)

func TestUIDsFromCounts(t *testing.T) {
	st := &model.FolderState{Pairs: []model.Pair{pr(1, "a", 0), pr(2, "b", S), pr(5, "c", 0)}}
	tests := []struct {
		name     string
		st       *model.FolderState
		changed  []model.RemoteMsg
		messages uint32
		want     []model.UID
		ok       bool
	}{
		{"nothing changed", st, nil, 3, []model.UID{1, 2, 5}, true},
		{"flags changed", st, []model.RemoteMsg{{UID: 2, Flags: F}}, 3, []model.UID{1, 2, 5}, true},
		{"new messages", st, []model.RemoteMsg{{UID: 9}, {UID: 7}, {UID: 5, Flags: S}}, 5, []model.UID{1, 2, 5, 7, 9}, true},
		// One paired message gone: the counts disagree, ask the server.
		{"an expunge", st, nil, 2, nil, false},
		// An expunge and a new message cancel out in EXISTS, but the new
		// one is in changed: 3 pairs + 1 new != 3.
		{"an expunge and a new message", st, []model.RemoteMsg{{UID: 8}}, 3, nil, false},
		{"unfinished download", &model.FolderState{Pairs: st.Pairs, Downloads: []model.DownloadIntent{{UID: 6}}}, nil, 3, nil, false},
		{"unfinished upload", &model.FolderState{Pairs: st.Pairs, Intents: []model.Intent{{Key: "x"}}}, nil, 3, nil, false},
		{"empty folder", &model.FolderState{}, nil, 0, []model.UID{}, true},
	}
	for _, tt := range tests {
		got, ok := UIDsFromCounts(tt.st, tt.changed, tt.messages)
		if ok != tt.ok || (ok && !slices.Equal(got, tt.want)) {
			t.Errorf("%s: got %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
