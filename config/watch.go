package config

import (
	"fmt"
	"time"

	"github.com/mailsync/mailsync/model"
)

// Watch is an account's [accounts.NAME.watch] section, used by
// `mailsync sync --watch`.
type Watch struct {
	// Folders are watched with IDLE besides INBOX, each on its own
	// connection; the other selected folders are polled.
	Folders []string
	// MaxIdle caps the IDLE connections, INBOX included.
	MaxIdle int
	// PollInterval is how often the other folders are polled with
	// STATUS; FullInterval how often every folder is synced.
	PollInterval, FullInterval time.Duration
}

// Defaults of the watch section.
const (
	DefaultPollInterval = 60 * time.Second
	DefaultFullInterval = 15 * time.Minute
	DefaultMaxIdle      = 5
)

type rawWatch struct {
	Folders      []string `toml:"folders"`
	MaxIdle      *int64   `toml:"max_idle"`
	PollInterval string   `toml:"poll_interval"`
	FullInterval string   `toml:"full_interval"`
}

// checkWatch reads the watch section into a.Watch.
func checkWatch(a *Account, rw rawWatch, bad func(k, msg string) error) error {
	w := Watch{MaxIdle: DefaultMaxIdle, PollInterval: DefaultPollInterval, FullInterval: DefaultFullInterval}
	for i, f := range rw.Folders {
		clean, err := model.CleanFolderName(f)
		if err != nil {
			return bad(fmt.Sprintf("watch.folders[%d]", i), fmt.Sprintf("%q is not a folder name: %v", f, err))
		}
		w.Folders = append(w.Folders, clean)
	}
	if rw.MaxIdle != nil {
		if *rw.MaxIdle < 1 || *rw.MaxIdle > 16 {
			return bad("watch.max_idle", fmt.Sprintf("%d is out of range (1-16)", *rw.MaxIdle))
		}
		w.MaxIdle = int(*rw.MaxIdle)
	}
	dur := func(key, s string, lo, hi time.Duration, into *time.Duration) error {
		if s == "" {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < lo || d > hi {
			return bad("watch."+key, fmt.Sprintf("%q is not a duration between %s and %s (e.g. \"60s\", \"15m\")", s, lo, hi))
		}
		*into = d
		return nil
	}
	if err := dur("poll_interval", rw.PollInterval, 5*time.Second, 24*time.Hour, &w.PollInterval); err != nil {
		return err
	}
	if err := dur("full_interval", rw.FullInterval, time.Minute, 7*24*time.Hour, &w.FullInterval); err != nil {
		return err
	}
	a.Watch = w
	return nil
}
