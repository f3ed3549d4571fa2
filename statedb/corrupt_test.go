package statedb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// fill writes a state with enough folders and pairs to span many pages.
func fill(t *testing.T, path string) {
	t.Helper()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for f := 0; f < 20; f++ {
		name := fmt.Sprintf("folder%02d", f)
		err := d.Update(func(tx *Tx) error {
			if err := tx.SetMeta(name, 7, 500, 9); err != nil {
				return err
			}
			for u := 1; u <= 300; u++ {
				if err := tx.PutPair(name, Pair{UID: model.UID(u), Key: fmt.Sprintf("1700000000.M%dP1.host", u)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// useAll opens the state and reads every folder, as a sync does.
func useAll(path string) error {
	d, err := Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Folders()
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := d.Load(n); err != nil {
			return err
		}
	}
	return d.Update(func(tx *Tx) error { return tx.SetMeta("folder00", 7, 501, 10) })
}

// A corrupt or truncated state file is a clear error naming the file and
// what to do, never a panic (issue 8, case 12).
func TestCorruptStateIsAnError(t *testing.T) {
	cases := map[string]func(b []byte) []byte{
		"truncated to half":    func(b []byte) []byte { return b[:len(b)/2] },
		"truncated mid-page":   func(b []byte) []byte { return b[:len(b)/2+1234] },
		"first pages zeroed":   func(b []byte) []byte { clear(b[:8192]); return b },
		"garbage":              func(b []byte) []byte { return []byte(strings.Repeat("not a database\n", 2000)) },
		"empty":                func(b []byte) []byte { return nil },
		"middle pages garbage": func(b []byte) []byte { garble(b[len(b)/3 : len(b)/3+16384]); return b },
		"leaf pages garbage":   func(b []byte) []byte { garble(b[len(b)-40960 : len(b)-8192]); return b },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			fill(t, path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			err = func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				return useAll(path)
			}()
			if err == nil {
				return // damage that bbolt's structure survives is not an error
			}
			if strings.HasPrefix(err.Error(), "panic") {
				t.Fatalf("damaged state panicked: %v", err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %q is not ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it away") {
				t.Fatalf("error %q does not name the file and what to do", err)
			}
		})
	}
}

func garble(b []byte) {
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}
