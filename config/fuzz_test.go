package config

import (
	"strings"
	"testing"
)

// FuzzParse: any text either parses into accounts that satisfy the
// checks, or fails with an error naming the file; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		secBase + "password_env = \"PW\"\n",
		secBase + "oauth2_token_command = \"oama access me\"\ntimeout = \"5m\"\nmax_message_size = \"1G\"\n",
		secBase + "password_env = \"PW\"\ntls_fingerprint = \"sha256:" + strings.Repeat("ab", 32) + "\"\n",
		"[accounts.x]\nhost = \"h\"\nport = 70000\n",
		"[serve]\naccount = \"nope\"\n",
		"[accounts.\"bad name\"]\n",
		"max_message_size = 12\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("/fuzz/config.toml", []byte(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config /fuzz/config.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, a := range c.Accounts {
			switch {
			case a.Host == "" || a.User == "" || a.Maildir == "":
				t.Fatalf("%s: missing host, user or maildir: %+v", name, a)
			case a.Port < 1 || a.Port > 65535:
				t.Fatalf("%s: port %d", name, a.Port)
			case a.TLS != "implicit" && a.TLS != "starttls" && a.TLS != "none":
				t.Fatalf("%s: tls %q", name, a.TLS)
			case a.Timeout < 1e9 || a.MaxMessageSize < 1024:
				t.Fatalf("%s: timeout %v, max_message_size %d", name, a.Timeout, a.MaxMessageSize)
			case a.TLS == "none" && !a.AllowInsecureAuth && !isLoopback(a.Host):
				t.Fatalf("%s: clear-text login to %s accepted", name, a.Host)
			case a.PasswordCommand == "" && a.PasswordEnv == "" && a.OAuth2TokenCommand == "":
				t.Fatalf("%s: no way to authenticate", name)
			}
		}
	})
}
