package model

import (
	"sort"
	"strings"
)

// Keywords is a set of IMAP keywords (RFC 3501 2.3.2: flags that do not
// begin with `\`), such as $Label1, $Junk, NonJunk or Important: sorted
// case-insensitively, each once. Keywords compare case-insensitively, as
// IMAP does; the spelling first seen is kept. $Forwarded is not one of
// them here: it is FlagPassed. The zero value is the empty set.
//
// Keywords are kept apart from Flags so that the six flags stay a small
// bit set; the sync engine merges both the same way (MergeKeywords).
type Keywords []string

// IsKeyword reports whether an IMAP flag name is a keyword mailsync
// syncs as such: not a system flag (`\Seen`, `\Recent`, `\*`), not
// $Forwarded (FlagPassed), and made of atom characters.
func IsKeyword(name string) bool {
	if name == "" || strings.HasPrefix(name, `\`) || strings.EqualFold(name, "$Forwarded") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"]`, c) >= 0 {
			return false
		}
	}
	return true
}

// NewKeywords returns the set of the keywords among names (IsKeyword);
// other names are left out.
func NewKeywords(names ...string) Keywords {
	var out Keywords
	for _, n := range names {
		if IsKeyword(n) {
			out = append(out, n)
		}
	}
	return out.normal()
}

// KeywordsFromIMAP is NewKeywords: the keywords of a FETCH FLAGS list.
func KeywordsFromIMAP(names []string) Keywords { return NewKeywords(names...) }

func (k Keywords) normal() Keywords {
	if len(k) == 0 {
		return nil
	}
	s := append(Keywords(nil), k...)
	sort.SliceStable(s, func(i, j int) bool { return strings.ToLower(s[i]) < strings.ToLower(s[j]) })
	out := s[:1]
	for _, n := range s[1:] {
		if !strings.EqualFold(n, out[len(out)-1]) {
			out = append(out, n)
		}
	}
	return out
}

// Has reports whether k holds name (case-insensitively).
func (k Keywords) Has(name string) bool {
	for _, n := range k {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Equal reports whether k and o hold the same keywords.
func (k Keywords) Equal(o Keywords) bool {
	if len(k) != len(o) {
		return false
	}
	for i := range k {
		if !strings.EqualFold(k[i], o[i]) {
			return false
		}
	}
	return true
}

// Minus returns the keywords of k that o lacks.
func (k Keywords) Minus(o Keywords) Keywords {
	var out Keywords
	for _, n := range k {
		if !o.Has(n) {
			out = append(out, n)
		}
	}
	return out
}

// Union returns the keywords of k and of o.
func (k Keywords) Union(o Keywords) Keywords {
	return append(append(Keywords(nil), k...), o...).normal()
}

// Intersect returns the keywords both k and o hold.
func (k Keywords) Intersect(o Keywords) Keywords {
	var out Keywords
	for _, n := range k {
		if o.Has(n) {
			out = append(out, n)
		}
	}
	return out
}

// Filter returns the keywords of k for which keep is true.
func (k Keywords) Filter(keep func(string) bool) Keywords {
	var out Keywords
	for _, n := range k {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// String is the keywords separated by spaces, "-" for none (for logs).
func (k Keywords) String() string {
	if len(k) == 0 {
		return "-"
	}
	return strings.Join(k, " ")
}

// MergeKeywords is MergeFlags for keywords: each keyword takes the value
// of the side that changed it against base (the keywords both sides
// agreed on at the last sync); when neither changed it, both agree.
func MergeKeywords(base, remote, local Keywords) Keywords {
	var out Keywords
	for _, n := range base.Union(remote).Union(local) {
		has := local.Has(n)
		if base.Has(n) != remote.Has(n) {
			has = remote.Has(n)
		}
		if has {
			out = append(out, n)
		}
	}
	return out
}

// KeywordRule says which keywords a server folder keeps, from the
// PERMANENTFLAGS of its SELECT reply (RFC 3501 7.1): the keywords listed
// there, and any keyword when the list holds `\*`. The zero value (no
// PERMANENTFLAGS sent) keeps every keyword.
type KeywordRule struct {
	// Restricted is set when PERMANENTFLAGS was sent without `\*`.
	Restricted bool
	// Listed are the keywords PERMANENTFLAGS names.
	Listed Keywords
}

// NewKeywordRule reads PERMANENTFLAGS; known is false when the server
// sent none.
func NewKeywordRule(permanent []string, known bool) KeywordRule {
	if !known {
		return KeywordRule{}
	}
	for _, n := range permanent {
		if n == `\*` {
			return KeywordRule{}
		}
	}
	return KeywordRule{Restricted: true, Listed: NewKeywords(permanent...)}
}

// Keeps reports whether the folder can store keyword name.
func (r KeywordRule) Keeps(name string) bool { return !r.Restricted || r.Listed.Has(name) }
