package statedb

import (
	"path/filepath"
	"testing"
	"time"
)

func TestRunInfo(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok, err := d.RunInfo("INBOX"); ok || err != nil {
		t.Fatalf("empty: %v %v", ok, err)
	}
	now := time.Now().Round(0).UTC()
	in := map[string]RunInfo{
		"INBOX":    {Time: now, OK: true, ServerMessages: 3, LocalMessages: 3, CondStore: true},
		AccountRun: {Time: now, Error: "login refused"},
	}
	if err := d.PutRunInfo(in); err != nil {
		t.Fatal(err)
	}
	for name, want := range in {
		got, ok, err := d.RunInfo(name)
		if !ok || err != nil || got != want {
			t.Fatalf("%q: %+v %v %v, want %+v", name, got, ok, err, want)
		}
	}
	if all, err := d.Runs(); err != nil || len(all) != 2 || all["INBOX"] != in["INBOX"] {
		t.Fatalf("runs %+v %v", all, err)
	}
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
}
