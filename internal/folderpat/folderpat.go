// Package folderpat decides which folders of an account are synced.
//
// A Set is built from two lists of the config file: folders, ordered
// patterns where the last one that matches a name decides (a leading "!"
// excludes), like mbsync's Patterns; and exclude, a shorthand for "!"
// patterns that also exclude the subfolders of what they match. In a
// pattern "*" matches any run of characters and "%" any run without the
// hierarchy separator "/", as in IMAP LIST; every other character stands
// for itself (so "[Gmail]/Sent Mail" is a plain name). Names are compared
// as they are, case included.
//
// A Set remembers which of its patterns matched a name, so that a
// pattern that matches nothing can be reported (Unmatched). Its methods
// may be called from several goroutines.
package folderpat

import (
	"fmt"
	"regexp"
	"strings"
	gosync "sync"
)

// Error is a pattern that cannot be used: List is "folders" or
// "exclude", Index its position in that list.
type Error struct {
	List    string
	Index   int
	Pattern string
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s[%d]: %q %s", e.List, e.Index, e.Pattern, e.Msg)
}

type rule struct {
	src     string // as written in the config ("!Trash"), for messages
	exclude bool
	re      *regexp.Regexp
}

// Set is a folder selection. The zero value and nil select every folder.
type Set struct {
	rules []rule

	mu   gosync.Mutex
	hits []bool
}

// New builds the selection from the config's folders and exclude lists.
// An empty folders list means every folder ("*"). Exclude entries are
// applied after the folders patterns and exclude subfolders too; an
// exclude entry that starts with "!" or that is "*" is refused with a
// message pointing to folders, as it cannot mean what it seems to.
func New(folders, exclude []string) (*Set, error) {
	s := &Set{}
	if len(folders) == 0 {
		folders = []string{"*"}
	}
	for i, p := range folders {
		ex := strings.HasPrefix(p, "!")
		body := strings.TrimPrefix(p, "!")
		if body == "" {
			return nil, &Error{"folders", i, p, "is empty: write a folder name or a pattern with * and %"}
		}
		s.rules = append(s.rules, rule{src: p, exclude: ex, re: compile(body, false)})
	}
	for i, p := range exclude {
		switch {
		case p == "":
			return nil, &Error{"exclude", i, p, "is empty: write a folder name or a pattern with * and %"}
		case strings.HasPrefix(p, "!"):
			return nil, &Error{"exclude", i, p, `cannot re-include a folder: to sync only some folders list them in folders instead, e.g. folders = ["INBOX", "Sent"] (the last matching pattern wins, "!" excludes)`}
		case strings.Trim(p, "*%") == "":
			return nil, &Error{"exclude", i, p, `excludes every folder: to sync only some folders list them in folders instead, e.g. folders = ["INBOX", "Sent"]`}
		}
		s.rules = append(s.rules, rule{src: "!" + p, exclude: true, re: compile(p, true)})
	}
	s.hits = make([]bool, len(s.rules))
	return s, nil
}

// compile turns a pattern into an anchored regexp; children adds "and
// every folder below what it matches".
func compile(p string, children bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '%':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if children {
		b.WriteString("(/.*)?")
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// Match reports whether the folder name is selected: the last pattern
// that matches it decides; a name no pattern matches is not selected.
func (s *Set) Match(name string) bool {
	if s == nil || len(s.rules) == 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	selected := false
	for i, r := range s.rules {
		if r.re.MatchString(name) {
			s.hits[i] = true
			selected = !r.exclude
		}
	}
	return selected
}

// Unmatched returns the patterns, as written ("!" for exclude entries),
// that have matched no name given to Match so far.
func (s *Set) Unmatched() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, r := range s.rules {
		if !s.hits[i] {
			out = append(out, r.src)
		}
	}
	return out
}
