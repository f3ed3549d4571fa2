package model

import "testing"

func TestKeywords(t *testing.T) {
	k := NewKeywords("NonJunk", `\Seen`, "$Forwarded", "$label1", "$Label1", "Important", `\*`, "a b", "")
	if want := (Keywords{"$label1", "Important", "NonJunk"}); !k.Equal(want) {
		t.Fatalf("NewKeywords = %v, want %v", k, want)
	}
	if !k.Has("$LABEL1") || k.Has("$Junk") {
		t.Fatal("Has")
	}
	if got := k.Minus(Keywords{"important"}); !got.Equal(Keywords{"$label1", "NonJunk"}) {
		t.Fatalf("Minus = %v", got)
	}
	if got := k.Union(Keywords{"$Junk"}); !got.Equal(Keywords{"$Junk", "$label1", "Important", "NonJunk"}) {
		t.Fatalf("Union = %v", got)
	}
	if NewKeywords() != nil || Keywords(nil).String() != "-" {
		t.Fatal("empty set")
	}
}

func TestMergeKeywords(t *testing.T) {
	tests := []struct{ base, remote, local, want Keywords }{
		{nil, nil, nil, nil},
		{nil, Keywords{"a"}, nil, Keywords{"a"}},
		{nil, nil, Keywords{"a"}, Keywords{"a"}},
		{Keywords{"a"}, nil, Keywords{"a"}, nil},
		{Keywords{"a"}, Keywords{"a"}, nil, nil},
		{Keywords{"a"}, Keywords{"b"}, Keywords{"a", "c"}, Keywords{"b", "c"}},
		{Keywords{"a"}, nil, nil, nil},
	}
	for _, tt := range tests {
		if got := MergeKeywords(tt.base, tt.remote, tt.local); !got.Equal(tt.want) {
			t.Errorf("MergeKeywords(%v, %v, %v) = %v, want %v", tt.base, tt.remote, tt.local, got, tt.want)
		}
	}
}

func TestKeywordRule(t *testing.T) {
	if r := NewKeywordRule(nil, false); !r.Keeps("$Junk") {
		t.Error("no PERMANENTFLAGS keeps every keyword")
	}
	if r := NewKeywordRule([]string{`\Seen`, `\*`}, true); !r.Keeps("$Junk") {
		t.Error(`\* keeps every keyword`)
	}
	r := NewKeywordRule([]string{`\Seen`, `\Answered`, "$Label1"}, true)
	if r.Keeps("$Junk") || !r.Keeps("$label1") {
		t.Errorf("restricted rule %+v", r)
	}
}
