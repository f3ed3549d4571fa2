package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/mailsync.1")

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-23T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionOf(bi), "(devel) commit 0123abcd+dirty (2026-11-23T10:00:00Z), go1.26.8"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.0.0"}}
	if got := versionOf(bi); got != "v1.0.0, go1.26.8" {
		t.Fatalf("got %q", got)
	}
	for _, args := range [][]string{{"--version"}, {"sync", "--version"}} {
		code, stdout, stderr := run(t, args...)
		if code != exitOK || !strings.HasPrefix(stdout, "mailsync version ") || !strings.Contains(stdout, "go1.") {
			t.Fatalf("%v: exit %d %q %q", args, code, stdout, stderr)
		}
	}
}

// docs/mailsync.1 is generated from the command definitions: regenerate
// with go test ./cmd/mailsync -run TestManPageIsCurrent -update.
func TestManPageIsCurrent(t *testing.T) {
	code, page, stderr := run(t, "man")
	if code != exitOK || !strings.Contains(page, ".TH mailsync 1") || !strings.Contains(page, "allow-mass-delete") || !strings.Contains(page, "EXIT STATUS") {
		t.Fatalf("man: exit %d, %q", code, stderr)
	}
	if strings.Contains(page, os.Getenv("HOME")+"/") {
		t.Fatalf("the man page holds this machine's home directory")
	}
	path := filepath.Join("..", "..", "docs", "mailsync.1")
	if *update {
		if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(path)
	if err != nil || string(old) != page {
		t.Fatalf("%s is not what `mailsync man` prints (%v): run go test ./cmd/mailsync -run TestManPageIsCurrent -update", path, err)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "complete -o bashdefault", "zsh": "#compdef mailsync", "fish": "complete -c mailsync"} {
		code, stdout, stderr := run(t, "completion", shell)
		if code != exitOK || !strings.Contains(stdout, want) || !strings.Contains(stdout, "mailsync") {
			t.Fatalf("completion %s: exit %d %q %q", shell, code, stdout, stderr)
		}
	}
	if code, _, stderr := run(t, "completion", "tcsh"); code != exitUsage || !strings.Contains(stderr, "bash|zsh|fish") {
		t.Fatalf("completion tcsh: exit %d %q", code, stderr)
	}
	// What the scripts ask: the commands, then the accounts. urfave/cli
	// reads the word being completed from os.Args.
	defer func(old []string) { os.Args = old }(os.Args)
	os.Args = []string{"mailsync", "--generate-bash-completion"}
	if _, stdout, _ := run(t, "--generate-bash-completion"); !strings.Contains(stdout, "sync") || !strings.Contains(stdout, "status") {
		t.Fatalf("commands: %q", stdout)
	}
	cfg := writeConfig(t, "[accounts.work]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/m\"\n"+
		"[accounts.home]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/n\"\n")
	os.Args = []string{"mailsync", "--config", cfg, "sync", "--generate-bash-completion"}
	if _, stdout, _ := run(t, os.Args[1:]...); stdout != "home\nwork\n" {
		t.Fatalf("accounts: %q", stdout)
	}
	// migrate FROM TO: both account names, FROM not offered again as
	// TO, nothing after TO.
	for _, tt := range []struct{ args, want string }{
		{"migrate", "home\nwork\n"},
		{"migrate work", "home\n"},
		{"migrate work home", ""},
	} {
		os.Args = append(append([]string{"mailsync", "--config", cfg}, strings.Fields(tt.args)...), "--generate-bash-completion")
		if _, stdout, _ := run(t, os.Args[1:]...); stdout != tt.want {
			t.Errorf("%s: %q, want %q", tt.args, stdout, tt.want)
		}
	}
}
