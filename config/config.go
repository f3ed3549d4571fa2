// Package config reads mailsync's TOML configuration file and checks it.
// Every error names the file, the key and what is wrong, so that the
// user can fix it without reading the source. It does no network I/O;
// running a password command happens only when the caller asks for the
// password (Account.Password).
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/internal/redact"
	"github.com/mailsync/mailsync/maildir"
)

// Account is one [accounts.NAME] section, checked and with paths
// expanded.
type Account struct {
	Name            string
	Host            string
	Port            int
	TLS             string // implicit | starttls | none
	TLSSkipVerify   bool
	User            string
	PasswordCommand string
	PasswordEnv     string
	Maildir         string
	State           string
	Folders         []string // ordered patterns, the last match wins (internal/folderpat)
	Exclude         []string // not synced, with their subfolders
	IncludeAllMail  bool
	Connections     int
	// Direction is "both" (default), "pull" (the server is never
	// changed) or "push" (the Maildir is never changed); Deletions is
	// "propagate" (default) or "keep" (a message deleted on one side
	// stays on the other). See sync/plan.ApplyPolicy.
	Direction string
	Deletions string
	// Retries is how many times a folder is tried again after a
	// transient failure (default 3; 0: never).
	Retries int

	// FolderMap is migrate's folder_map: this account's folder names
	// ("/"-separated) → the target's, when it is migrated FROM.
	FolderMap map[string]string

	// Security and limits (see security.go).
	TLSCAFile          string
	TLSFingerprint     string
	AllowInsecureAuth  bool
	OAuth2TokenCommand string
	Timeout            time.Duration
	MaxMessageSize     int64

	Watch Watch // see watch.go

	// Layout is the Maildir's layout (see layout.go).
	Layout maildir.Layout

	file string
}

// Serve is the [serve] section.
type Serve struct {
	Account         string
	Maildir         string
	Listen          string
	User            string
	PasswordCommand string
	TLSCert         string
	TLSKey          string
	ReadOnly        bool
	Layout          maildir.Layout // see layout.go
}

// Config is a whole configuration file.
type Config struct {
	Path     string
	Accounts map[string]*Account
	Serve    Serve
}

// Error is a configuration error: what file, which key, what is wrong.
type Error struct {
	File string
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("config %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("config %s: %s: %s", e.File, e.Key, e.Msg)
}

type rawAccount struct {
	Host            string   `toml:"host"`
	Port            *int64   `toml:"port"`
	TLS             string   `toml:"tls"`
	TLSSkipVerify   bool     `toml:"tls_skip_verify"`
	User            string   `toml:"user"`
	PasswordCommand string   `toml:"password_command"`
	PasswordEnv     string   `toml:"password_env"`
	Maildir         string   `toml:"maildir"`
	State           string   `toml:"state"`
	Folders         []string `toml:"folders"`
	Exclude         []string `toml:"exclude"`
	IncludeAllMail  bool     `toml:"include_all_mail"`
	Connections     *int64   `toml:"connections"`
	Direction       string   `toml:"direction"`
	Deletions       string   `toml:"deletions"`
	Retries         *int64   `toml:"retries"`

	FolderMap map[string]string `toml:"folder_map"`

	TLSCAFile          string `toml:"tls_ca_file"`
	TLSFingerprint     string `toml:"tls_fingerprint"`
	AllowInsecureAuth  bool   `toml:"allow_insecure_auth"`
	OAuth2TokenCommand string `toml:"oauth2_token_command"`
	Timeout            string `toml:"timeout"`
	MaxMessageSize     any    `toml:"max_message_size"`

	Watch rawWatch `toml:"watch"`

	Layout string `toml:"layout"`
}

type rawConfig struct {
	Accounts map[string]rawAccount `toml:"accounts"`
	Serve    struct {
		Account         string `toml:"account"`
		Maildir         string `toml:"maildir"`
		Listen          string `toml:"listen"`
		User            string `toml:"user"`
		PasswordCommand string `toml:"password_command"`
		TLSCert         string `toml:"tls_cert"`
		TLSKey          string `toml:"tls_key"`
		ReadOnly        bool   `toml:"read_only"`
		Layout          string `toml:"layout"`
	} `toml:"serve"`
}

// DefaultPath is $XDG_CONFIG_HOME/mailsync/config.toml.
func DefaultPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "mailsync", "config.toml")
}

func stateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "mailsync")
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &Error{File: path, Msg: "does not exist; create it (see the README's Configuration section) or pass --config FILE"}
	}
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse checks configuration text; path is used in messages and to
// resolve relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, &Error{File: path, Msg: fmt.Sprintf("line %d: %s", perr.Position.Line, perr.Message)}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &Error{File: path, Key: und[0].String(), Msg: "unknown key (check its spelling against the README's Configuration section)"}
	}
	c := &Config{Path: path, Accounts: map[string]*Account{}}
	base := filepath.Dir(path)
	for name, ra := range raw.Accounts {
		a, err := checkAccount(path, base, name, ra)
		if err != nil {
			return nil, err
		}
		c.Accounts[name] = a
	}
	s := raw.Serve
	c.Serve = Serve{Account: s.Account, Maildir: expand(base, s.Maildir), Listen: s.Listen, User: s.User,
		PasswordCommand: s.PasswordCommand, TLSCert: expand(base, s.TLSCert), TLSKey: expand(base, s.TLSKey), ReadOnly: s.ReadOnly}
	if s.Account != "" {
		if _, ok := c.Accounts[s.Account]; !ok {
			return nil, &Error{File: path, Key: "serve.account", Msg: fmt.Sprintf("no account %q is configured", s.Account)}
		}
	}
	if err := checkLayout(&c.Serve.Layout, s.Layout); err != nil {
		return nil, &Error{File: path, Key: "serve.layout", Msg: err.Error()}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return nil, &Error{File: path, Key: "serve.tls_cert", Msg: "tls_cert and tls_key go together: set both or neither"}
	}
	return c, nil
}

func checkAccount(file, base, name string, ra rawAccount) (*Account, error) {
	key := func(k string) string { return "accounts." + name + "." + k }
	bad := func(k, msg string) error { return &Error{File: file, Key: key(k), Msg: msg} }
	if !accountName.MatchString(name) {
		return nil, &Error{File: file, Key: "accounts." + name, Msg: "an account name may hold letters, digits, '.', '_' and '-' only"}
	}
	a := &Account{Name: name, Host: ra.Host, TLS: ra.TLS, TLSSkipVerify: ra.TLSSkipVerify, User: ra.User,
		PasswordCommand: ra.PasswordCommand, PasswordEnv: ra.PasswordEnv, Exclude: ra.Exclude, IncludeAllMail: ra.IncludeAllMail, file: file}
	a.FolderMap = ra.FolderMap
	if a.Host == "" {
		return nil, bad("host", "missing: the IMAP server's host name")
	}
	switch a.TLS {
	case "":
		a.TLS = "implicit"
	case "implicit", "starttls", "none":
	default:
		return nil, bad("tls", fmt.Sprintf("%q is not one of implicit, starttls, none", a.TLS))
	}
	if ra.Port == nil {
		a.Port = 993
		if a.TLS != "implicit" {
			a.Port = 143
		}
	} else if *ra.Port < 1 || *ra.Port > 65535 {
		return nil, bad("port", fmt.Sprintf("%d is not a port number (1-65535)", *ra.Port))
	} else {
		a.Port = int(*ra.Port)
	}
	if a.User == "" {
		return nil, bad("user", "missing: the login name")
	}
	if err := checkSecurity(a, base, ra, bad); err != nil {
		return nil, err
	}
	if err := checkWatch(a, ra.Watch, bad); err != nil {
		return nil, err
	}
	if err := checkLayout(&a.Layout, ra.Layout); err != nil {
		return nil, bad("layout", err.Error())
	}
	if a.PasswordCommand == "" && a.PasswordEnv == "" && a.OAuth2TokenCommand == "" {
		return nil, bad("password_command", "missing: a command that prints the password (e.g. \"pass show mail/"+name+"\"), or set password_env")
	}
	if a.PasswordCommand != "" && a.PasswordEnv != "" {
		return nil, bad("password_env", "set either password_command or password_env, not both")
	}
	if ra.Maildir == "" {
		return nil, bad("maildir", "missing: the local Maildir's directory (e.g. \"~/Mail/"+name+"\")")
	}
	a.Maildir = expand(base, ra.Maildir)
	if ra.State == "" {
		a.State = filepath.Join(stateDir(), name+".db")
	} else {
		a.State = expand(base, ra.State)
	}
	a.Folders = ra.Folders
	if _, err := folderpat.New(a.Folders, a.Exclude); err != nil {
		var pe *folderpat.Error
		if errors.As(err, &pe) {
			return nil, bad(fmt.Sprintf("%s[%d]", pe.List, pe.Index), fmt.Sprintf("%q %s", pe.Pattern, pe.Msg))
		}
		return nil, bad("folders", err.Error())
	}
	a.Connections = 3
	if ra.Connections != nil {
		if *ra.Connections < 1 || *ra.Connections > 16 {
			return nil, bad("connections", fmt.Sprintf("%d is out of range (1-16)", *ra.Connections))
		}
		a.Connections = int(*ra.Connections)
	}
	switch a.Direction = ra.Direction; a.Direction {
	case "":
		a.Direction = "both"
	case "both", "pull", "push":
	default:
		return nil, bad("direction", fmt.Sprintf("%q is not one of both, pull, push", ra.Direction))
	}
	switch a.Deletions = ra.Deletions; a.Deletions {
	case "":
		a.Deletions = "propagate"
	case "propagate", "keep":
	default:
		return nil, bad("deletions", fmt.Sprintf("%q is not one of propagate, keep", ra.Deletions))
	}
	a.Retries = 3
	if ra.Retries != nil {
		if *ra.Retries < 0 || *ra.Retries > 20 {
			return nil, bad("retries", fmt.Sprintf("%d is out of range (0-20)", *ra.Retries))
		}
		a.Retries = int(*ra.Retries)
	}
	return a, nil
}

// expand turns "~/x" into the home directory's x and a relative path
// into one relative to the config file's directory; "" stays "".
func expand(base, p string) string {
	if p == "" {
		return ""
	}
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}

// Password runs the account's password command (or reads its variable)
// and returns the password. The error names the key, never the password.
func (a *Account) Password(ctx context.Context) (string, error) {
	if a.PasswordEnv != "" {
		pw, ok := os.LookupEnv(a.PasswordEnv)
		if !ok || pw == "" {
			return "", &Error{File: a.file, Key: "accounts." + a.Name + ".password_env", Msg: fmt.Sprintf("the environment variable %s is not set", a.PasswordEnv)}
		}
		return pw, nil
	}
	pw, err := RunPasswordCommand(ctx, a.PasswordCommand)
	if err != nil {
		return "", &Error{File: a.file, Key: "accounts." + a.Name + ".password_command", Msg: err.Error()}
	}
	return pw, nil
}

// RunPasswordCommand runs cmd with sh -c and returns its first line of
// output.
func RunPasswordCommand(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Stdout, c.Stderr, c.Stdin = &stdout, &stderr, os.Stdin
	if err := c.Run(); err != nil {
		// The command may have printed the secret before failing, or
		// repeat it on stderr: never pass it on.
		var sec redact.Set
		for _, line := range strings.Split(stdout.String(), "\n") {
			sec.Add(strings.TrimSpace(line))
		}
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return "", errors.New(sec.String(fmt.Sprintf("%q failed: %v: %s", cmd, err, msg)))
		}
		return "", errors.New(sec.String(fmt.Sprintf("%q failed: %v", cmd, err)))
	}
	pw := strings.TrimRight(strings.SplitN(stdout.String(), "\n", 2)[0], "\r")
	pw = strings.TrimSpace(pw)
	if pw == "" {
		return "", fmt.Errorf("%q printed nothing", cmd)
	}
	return pw, nil
}

// Names returns the configured account names, sorted.
func (c *Config) Names() []string {
	out := make([]string, 0, len(c.Accounts))
	for n := range c.Accounts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Select returns the named accounts, or all when names is empty.
func (c *Config) Select(names []string) ([]*Account, error) {
	if len(names) == 0 {
		if len(c.Accounts) == 0 {
			return nil, &Error{File: c.Path, Msg: "no [accounts.NAME] section: nothing to sync"}
		}
		names = c.Names()
	}
	var out []*Account
	for _, n := range names {
		a, ok := c.Accounts[n]
		if !ok {
			return nil, &Error{File: c.Path, Msg: fmt.Sprintf("no account %q (configured: %s)", n, strings.Join(c.Names(), ", "))}
		}
		out = append(out, a)
	}
	return out, nil
}

// Selection returns the account's folder selection, a new Set (it
// records which patterns matched) for each run.
func (a *Account) Selection() *folderpat.Set {
	s, err := folderpat.New(a.Folders, a.Exclude)
	if err != nil {
		panic("config: selection checked by Parse: " + err.Error())
	}
	return s
}
