package main

import (
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(&globals{})
	tests := []struct{ in, want string }{
		{"sync --json", "--json sync"},
		{"sync bench --allow-mass-delete", "sync --allow-mass-delete bench"},
		{"verify bench --quick", "verify --quick bench"},
		{"verify bench other --quick -v --config c.toml", "-v --config c.toml verify --quick bench other"},
		{"--config c.toml sync a", "--config c.toml sync a"},
		{"-c c.toml sync --config=d.toml a -q", "-c c.toml --config=d.toml -q sync a"},
		{"sync a -- --json", "sync a -- --json"},
		{"sync a --folder INBOX --folder Sent b", "sync --folder INBOX --folder Sent a b"},
		{"serve --read-only=false --json", "--json serve --read-only=false"},
		{"sync a --no-such-flag", "sync --no-such-flag a"},
		{"nosuchcommand --json", "nosuchcommand --json"},
		{"--json", "--json"},
	}
	for _, tt := range tests {
		got := reorderArgs(app, append([]string{"mailsync"}, strings.Fields(tt.in)...))
		if g := strings.Join(got[1:], " "); g != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, g, tt.want)
		}
	}
}
