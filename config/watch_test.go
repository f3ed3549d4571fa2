package config

import (
	"strings"
	"testing"
	"time"
)

const watchBase = `
[accounts.w]
host = "imap.example.org"
user = "me"
password_command = "echo x"
maildir = "/m"
`

func TestWatchSection(t *testing.T) {
	c, err := Parse("/c.toml", []byte(watchBase+`
[accounts.w.watch]
folders = ["Lists/go", "Sent"]
poll_interval = "30s"
full_interval = "1h"
max_idle = 3
`))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Accounts["w"].Watch
	if strings.Join(w.Folders, ",") != "Lists/go,Sent" || w.PollInterval != 30*time.Second || w.FullInterval != time.Hour || w.MaxIdle != 3 {
		t.Fatalf("watch: %+v", w)
	}
	c, err = Parse("/c.toml", []byte(watchBase))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Accounts["w"].Watch; w.PollInterval != DefaultPollInterval || w.FullInterval != DefaultFullInterval || w.MaxIdle != DefaultMaxIdle || len(w.Folders) != 0 {
		t.Fatalf("defaults: %+v", w)
	}
}

func TestWatchErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ section, key string }{
		{`poll_interval = "1ms"`, "accounts.w.watch.poll_interval"},
		{`poll_interval = "soon"`, "accounts.w.watch.poll_interval"},
		{`full_interval = "10s"`, "accounts.w.watch.full_interval"},
		{`max_idle = 0`, "accounts.w.watch.max_idle"},
		{`folders = ["a//b"]`, "accounts.w.watch.folders[0]"},
		{`idle = true`, "accounts.w.watch.idle"},
	} {
		_, err := Parse("/c.toml", []byte(watchBase+"[accounts.w.watch]\n"+tc.section+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %v, want one naming %s", tc.section, err, tc.key)
		}
	}
}
