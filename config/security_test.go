package config

import (
	"context"
	"strings"
	"testing"
	"time"
)

const secBase = `
[accounts.a]
host = "imap.example.org"
user = "me"
maildir = "/m"
`

func TestSecurityKeys(t *testing.T) {
	c, err := Parse("/etc/m/config.toml", []byte(secBase+`
oauth2_token_command = "oama access me@example.org"
tls_ca_file = "ca.pem"
tls_fingerprint = "SHA256:AB:cd:ef:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc"
timeout = "90s"
max_message_size = "10MiB"
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accounts["a"]
	if a.TLSCAFile != "/etc/m/ca.pem" || a.Timeout != 90*time.Second || a.MaxMessageSize != 10<<20 || a.OAuth2TokenCommand == "" || a.TLSFingerprint == "" {
		t.Fatalf("%+v", a)
	}
	c, err = Parse("/c.toml", []byte(secBase+"password_env = \"PW\"\nmax_message_size = 4096\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Accounts["a"]; a.Timeout != DefaultTimeout || a.MaxMessageSize != 4096 {
		t.Fatalf("%+v", a)
	}
}

func TestSecurityKeyErrors(t *testing.T) {
	for _, tc := range []struct{ extra, key string }{
		{`password_env = "PW"` + "\n" + `tls_fingerprint = "abc"`, "tls_fingerprint"},
		{`password_env = "PW"` + "\n" + `tls_fingerprint = "sha256:abcd"`, "tls_fingerprint"},
		{`password_env = "PW"` + "\n" + `timeout = "soon"`, "timeout"},
		{`password_env = "PW"` + "\n" + `timeout = "1ms"`, "timeout"},
		{`password_env = "PW"` + "\n" + `max_message_size = "lots"`, "max_message_size"},
		{`password_env = "PW"` + "\n" + `max_message_size = 10`, "max_message_size"},
		{`password_env = "PW"` + "\n" + `tls = "none"`, "tls"},
		{`password_env = "PW"` + "\n" + `oauth2_token_command = "x"`, "oauth2_token_command"},
	} {
		_, err := Parse("/c.toml", []byte(secBase+tc.extra+"\n"))
		if err == nil || !strings.Contains(err.Error(), "accounts.a."+tc.key+":") {
			t.Errorf("%q: err = %v, want one about %s", tc.extra, err, tc.key)
		}
	}
	// tls = "none" is fine to loopback, and elsewhere when allowed.
	for _, extra := range []string{"tls = \"none\"\nallow_insecure_auth = true", "tls = \"none\"\nhost = \"127.0.0.1\""} {
		text := strings.Replace(secBase, "host = \"imap.example.org\"\n", "", strings.Count(extra, "host"))
		if _, err := Parse("/c.toml", []byte(text+"password_env = \"PW\"\n"+extra+"\n")); err != nil {
			t.Errorf("%q: %v", extra, err)
		}
	}
}

// TestPasswordCommandFailureHidesSecret: a failing command's stderr is
// shown, but not what it printed as the secret.
func TestPasswordCommandFailureHidesSecret(t *testing.T) {
	_, err := RunPasswordCommand(context.Background(), `echo hunter2-secret; echo "gpg: cannot decrypt hunter2-secret" >&2; exit 3`)
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") || !strings.Contains(err.Error(), "gpg: cannot decrypt <redacted>") {
		t.Errorf("err = %v", err)
	}
}
