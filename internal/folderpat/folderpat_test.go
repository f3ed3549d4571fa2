package folderpat

import (
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	names := []string{"INBOX", "Trash", "Sent", "Archive", "Archive/2002", "Archive/2002/Q1", "Lists/go", "Lists/go/nuts", "[Gmail]/Sent Mail", "Archived"}
	tests := []struct {
		folders, exclude []string
		want             []string
	}{
		{nil, nil, names},
		{[]string{"*", "!Trash", "!Archive/*"}, nil, []string{"INBOX", "Sent", "Archive", "Lists/go", "Lists/go/nuts", "[Gmail]/Sent Mail", "Archived"}},
		{[]string{"%"}, nil, []string{"INBOX", "Trash", "Sent", "Archive", "Archived"}},
		{[]string{"Lists/%"}, nil, []string{"Lists/go"}},
		{[]string{"INBOX", "[Gmail]/Sent Mail"}, nil, []string{"INBOX", "[Gmail]/Sent Mail"}},
		{[]string{"!*", "INBOX"}, nil, []string{"INBOX"}},
		{[]string{"INBOX", "!*"}, nil, nil}, // the last match wins
		{nil, []string{"Archive"}, []string{"INBOX", "Trash", "Sent", "Lists/go", "Lists/go/nuts", "[Gmail]/Sent Mail", "Archived"}},
		{nil, []string{"Archive/%", "Lists/go"}, []string{"INBOX", "Trash", "Sent", "Archive", "[Gmail]/Sent Mail", "Archived"}},
		{[]string{"*", "!Trash"}, []string{"Lists"}, []string{"INBOX", "Sent", "Archive", "Archive/2002", "Archive/2002/Q1", "[Gmail]/Sent Mail", "Archived"}},
	}
	for _, tt := range tests {
		s, err := New(tt.folders, tt.exclude)
		if err != nil {
			t.Fatalf("%v %v: %v", tt.folders, tt.exclude, err)
		}
		var got []string
		for _, n := range names {
			if s.Match(n) {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("folders %q exclude %q:\n got %q\nwant %q", tt.folders, tt.exclude, got, tt.want)
		}
	}
}

func TestUnmatched(t *testing.T) {
	s, err := New([]string{"*", "!Trash", "!Nope/%"}, []string{"Old"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"INBOX", "Trash"} {
		s.Match(n)
	}
	if got := s.Unmatched(); !slices.Equal(got, []string{"!Nope/%", "!Old"}) {
		t.Fatalf("unmatched %q", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		folders, exclude []string
		want             string
	}{
		{nil, []string{"*", "!INBOX"}, `exclude[0]: "*" excludes every folder: to sync only some folders list them in folders`},
		{nil, []string{"Junk", "!INBOX"}, `exclude[1]: "!INBOX" cannot re-include a folder`},
		{[]string{"INBOX", "!"}, nil, `folders[1]: "!" is empty`},
	}
	for _, tt := range tests {
		_, err := New(tt.folders, tt.exclude)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q %q: got %v, want %q", tt.folders, tt.exclude, err, tt.want)
		}
	}
}
