package config

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults of the security keys.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxMessageSize = 256 << 20
)

// checkSecurity reads the TLS, authentication and limit keys of an
// account into a.
func checkSecurity(a *Account, base string, ra rawAccount, bad func(k, msg string) error) error {
	a.AllowInsecureAuth = ra.AllowInsecureAuth
	a.OAuth2TokenCommand = ra.OAuth2TokenCommand
	if ra.TLSCAFile != "" {
		a.TLSCAFile = expand(base, ra.TLSCAFile)
	}
	if ra.TLSFingerprint != "" {
		if err := checkFingerprint(ra.TLSFingerprint); err != nil {
			return bad("tls_fingerprint", err.Error())
		}
		a.TLSFingerprint = ra.TLSFingerprint
	}
	if a.TLS == "none" && (a.TLSCAFile != "" || a.TLSFingerprint != "") {
		return bad("tls", "tls = \"none\" ignores tls_ca_file and tls_fingerprint: use tls = \"implicit\" or \"starttls\"")
	}
	if a.TLS == "none" && !a.AllowInsecureAuth && !isLoopback(a.Host) {
		return bad("tls", fmt.Sprintf("tls = \"none\" would send the password to %s in clear text: use \"implicit\" or \"starttls\", or set allow_insecure_auth = true if the network is trusted", a.Host))
	}
	if a.OAuth2TokenCommand != "" && (ra.PasswordCommand != "" || ra.PasswordEnv != "") {
		return bad("oauth2_token_command", "set either oauth2_token_command or password_command/password_env, not both")
	}
	a.Timeout = DefaultTimeout
	if ra.Timeout != "" {
		d, err := time.ParseDuration(ra.Timeout)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return bad("timeout", fmt.Sprintf("%q is not a duration between 1s and 24h (e.g. \"60s\", \"5m\")", ra.Timeout))
		}
		a.Timeout = d
	}
	a.MaxMessageSize = DefaultMaxMessageSize
	if ra.MaxMessageSize != nil {
		n, err := parseSize(ra.MaxMessageSize)
		if err != nil {
			return bad("max_message_size", err.Error())
		}
		a.MaxMessageSize = n
	}
	return nil
}

var fingerprintRE = regexp.MustCompile(`^(?i)sha256:([0-9a-f]{2}:?){31}[0-9a-f]{2}$`)

func checkFingerprint(s string) error {
	if !fingerprintRE.MatchString(s) {
		return fmt.Errorf("%q: want \"sha256:\" followed by the server certificate's SHA-256 in hex, colons optional (openssl x509 -noout -fingerprint -sha256 prints it)", s)
	}
	if _, err := hex.DecodeString(strings.ReplaceAll(s[len("sha256:"):], ":", "")); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	return nil
}

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*([KMG]I?B?|B)?$`)

// parseSize reads a byte count: an integer, or a string such as "256MiB",
// "10M" or "2G" (powers of 1024).
func parseSize(v any) (int64, error) {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case string:
		m := sizeRE.FindStringSubmatch(strings.TrimSpace(strings.ToUpper(v)))
		if m == nil {
			return 0, fmt.Errorf("%q is not a size (e.g. 268435456, \"256MiB\", \"1G\")", v)
		}
		num, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is too large", v)
		}
		var shift uint
		if m[2] != "" {
			shift = map[byte]uint{'K': 10, 'M': 20, 'G': 30}[m[2][0]]
		}
		if num > (1<<62)>>shift {
			return 0, fmt.Errorf("%q is too large", v)
		}
		n = num << shift
	default:
		return 0, fmt.Errorf("%v is not a size (e.g. 268435456, \"256MiB\", \"1G\")", v)
	}
	if n < 1024 {
		return 0, fmt.Errorf("%d bytes is too small: at least 1 KiB", n)
	}
	return n, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OAuth2Token runs the account's oauth2_token_command and returns the
// access token it prints. The error names the key, never the token.
func (a *Account) OAuth2Token(ctx context.Context) (string, error) {
	tok, err := RunPasswordCommand(ctx, a.OAuth2TokenCommand)
	if err != nil {
		return "", &Error{File: a.file, Key: "accounts." + a.Name + ".oauth2_token_command", Msg: err.Error()}
	}
	return tok, nil
}
