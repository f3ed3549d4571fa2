package config

import (
	"context"
	"strings"
	"testing"
)

func TestParseGood(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/st")
	t.Setenv("HOME", "/home/u")
	c, err := Parse("/etc/m/config.toml", []byte(`
[accounts.work]
host = "imap.example.org"
user = "me@example.org"
password_command = "echo secret"
maildir = "~/Mail/work"
exclude = ["Junk", "Archive/*"]
folders = ["*", "!Trash"]

[accounts.home]
host = "localhost"
port = 1143
tls = "none"
user = "me"
password_env = "PW"
maildir = "mail"
state = "home.db"
connections = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Accounts["work"]
	if w.Port != 993 || w.TLS != "implicit" || w.Maildir != "/home/u/Mail/work" || w.State != "/st/mailsync/work.db" || w.Connections != 3 {
		t.Fatalf("work: %+v", w)
	}
	if sel := w.Selection(); sel.Match("Trash") || sel.Match("Junk/x") || !sel.Match("Archive") || sel.Match("Archive/2002") || !sel.Match("INBOX") {
		t.Fatalf("work's folder selection: folders %q exclude %q", w.Folders, w.Exclude)
	}
	h := c.Accounts["home"]
	if h.Port != 1143 || h.Maildir != "/etc/m/mail" || h.State != "/etc/m/home.db" || h.Connections != 2 {
		t.Fatalf("home: %+v", h)
	}
	pw, err := w.Password(context.Background())
	if err != nil || pw != "secret" {
		t.Fatalf("password %q %v", pw, err)
	}
	t.Setenv("PW", "p2")
	if pw, err := h.Password(context.Background()); err != nil || pw != "p2" {
		t.Fatalf("env password %q %v", pw, err)
	}
	if got := c.Names(); strings.Join(got, ",") != "home,work" {
		t.Fatalf("names %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	base := "[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/m\"\n"
	tests := []struct{ text, want string }{
		{base + "port = 99999\n", "config /c.toml: accounts.a.port: 99999 is not a port number"},
		{base + "tls = \"yes\"\n", `accounts.a.tls: "yes" is not one of implicit, starttls, none`},
		{base + "hots = \"x\"\n", "accounts.a.hots: unknown key"},
		{strings.Replace(base, "host = \"h\"\n", "", 1), "accounts.a.host: missing"},
		{strings.Replace(base, "password_command = \"true\"\n", "", 1), "accounts.a.password_command: missing"},
		{strings.Replace(base, "maildir = \"/m\"\n", "", 1), "accounts.a.maildir: missing"},
		{base + "port = \"x\"\n", "config /c.toml:"},
		{"[accounts.a\n", "line 2: expected"},
		{base + "[serve]\naccount = \"b\"\n", `serve.account: no account "b"`},
		{base + "connections = 0\n", "accounts.a.connections: 0 is out of range"},
		{base + "exclude = [\"*\", \"!INBOX\"]\n", `accounts.a.exclude[0]: "*" excludes every folder: to sync only some folders list them in folders`},
		{base + "exclude = [\"Junk\", \"!INBOX\"]\n", `accounts.a.exclude[1]: "!INBOX" cannot re-include a folder`},
		{base + "folders = [\"INBOX\", \"\"]\n", `accounts.a.folders[1]: "" is empty`},
		{base + "folders = \"INBOX\"\n", "config /c.toml:"},
		{base + "direction = \"up\"\n", `accounts.a.direction: "up" is not one of both, pull, push`},
		{base + "deletions = \"never\"\n", `accounts.a.deletions: "never" is not one of propagate, keep`},
		{base + "retries = 99\n", "accounts.a.retries: 99 is out of range (0-20)"},
	}
	for _, tt := range tests {
		_, err := Parse("/c.toml", []byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %q", tt.text, err, tt.want)
		}
	}
}

func TestPasswordCommandFailure(t *testing.T) {
	c, err := Parse("/c.toml", []byte("[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"echo nope >&2; exit 3\"\nmaildir = \"/m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Accounts["a"].Password(context.Background())
	if err == nil || !strings.Contains(err.Error(), "accounts.a.password_command") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v", err)
	}
}

func TestDirectionDeletionsRetries(t *testing.T) {
	base := "[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword_command = \"true\"\nmaildir = \"/m\"\n"
	c, err := Parse("/c.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Accounts["a"]; a.Direction != "both" || a.Deletions != "propagate" || a.Retries != 3 {
		t.Fatalf("defaults: %q %q %d", a.Direction, a.Deletions, a.Retries)
	}
	c, err = Parse("/c.toml", []byte(base+"direction = \"pull\"\ndeletions = \"keep\"\nretries = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Accounts["a"]; a.Direction != "pull" || a.Deletions != "keep" || a.Retries != 0 {
		t.Fatalf("backup: %q %q %d", a.Direction, a.Deletions, a.Retries)
	}
}
