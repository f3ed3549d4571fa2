package sync

import (
	"os"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/statedb"
)

var dovecottestOptsNoUIDPlus = dovecottest.Options{NoUIDPlus: true, NoCondStore: true}

func removeState(t *testing.T, fx *fixture) {
	t.Helper()
	if err := os.Remove(fx.acct.StatePath); err != nil {
		t.Fatal(err)
	}
}

func openState(t *testing.T, fx *fixture) *statedb.DB {
	t.Helper()
	db, err := statedb.Open(fx.acct.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func renameDir(from, to string) error { return os.Rename(from, to) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// lineDiff lists the lines only one of a and b has.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
