package statedb

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketRuns holds the outcome of the last sync of each folder, keyed by
// folder name, and of the account as a whole under AccountRun. It is
// written by the command line after a run and read by `mailsync status`;
// the engine neither reads nor needs it, and a state file without it is
// complete.
var bucketRuns = []byte("runs")

// AccountRun is the RunInfo key of the account as a whole (a failed login,
// say), which no folder name can be.
const AccountRun = "\x00account"

// RunInfo is what the last sync did to a folder.
type RunInfo struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration"`
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	// Messages on each side when the run ended: the server's as the
	// state pairs them, the Maildir's as scanned.
	ServerMessages int  `json:"server_messages"`
	LocalMessages  int  `json:"local_messages"`
	CondStore      bool `json:"condstore"`
}

// PutRunInfo records the outcome of a run, one transaction for all of
// runs (folder name → RunInfo).
func (d *DB) PutRunInfo(runs map[string]RunInfo) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRuns)
		if err != nil {
			return err
		}
		for name, ri := range runs {
			v, err := json.Marshal(ri)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(name), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state %s: record the run: %w", d.path, err)
	}
	return nil
}

// RunInfo returns what was recorded of the last run of folder (or
// AccountRun); ok is false when nothing was.
func (d *DB) RunInfo(folder string) (ri RunInfo, ok bool, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(folder))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &ri)
	})
	if err != nil {
		return RunInfo{}, false, fmt.Errorf("state %s: run record of %q: %w", d.path, folder, err)
	}
	return ri, ok, nil
}

// Runs returns every recorded run, by folder name (and AccountRun).
func (d *DB) Runs() (map[string]RunInfo, error) {
	out := map[string]RunInfo{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var ri RunInfo
			if err := json.Unmarshal(v, &ri); err != nil {
				return fmt.Errorf("run record of %q: %w", k, err)
			}
			out[string(k)] = ri
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", d.path, err)
	}
	return out, nil
}
