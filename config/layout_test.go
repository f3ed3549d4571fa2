package config

import (
	"strings"
	"testing"

	"github.com/mailsync/mailsync/maildir"
)

func TestLayoutKey(t *testing.T) {
	c, err := Parse("/etc/m/config.toml", []byte(`
[accounts.old]
host = "h"
user = "u"
password_env = "PW"
maildir = "/m/old"
layout = "fs"

[accounts.pp]
host = "h"
user = "u"
password_env = "PW"
maildir = "/m/pp"

[serve]
maildir = "/m/old"
layout = "fs"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Accounts["old"].Layout != maildir.LayoutFS || c.Accounts["pp"].Layout != "" || c.Serve.Layout != maildir.LayoutFS {
		t.Errorf("layouts: old %q, pp %q, serve %q", c.Accounts["old"].Layout, c.Accounts["pp"].Layout, c.Serve.Layout)
	}
	for _, tt := range []struct{ text, key string }{
		{"[accounts.a]\nhost = \"h\"\nuser = \"u\"\npassword_env = \"PW\"\nmaildir = \"/m\"\nlayout = \"nested\"\n", "accounts.a.layout"},
		{"[serve]\nlayout = \"Maildir++ \"\n", "serve.layout"},
	} {
		_, err := Parse("/c.toml", []byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), `"fs"`) {
			t.Errorf("%q: error %v, want one naming %s and the choices", tt.text, err, tt.key)
		}
	}
}
