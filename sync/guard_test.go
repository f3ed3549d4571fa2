package sync

import (
	"testing"
)

// TestMassDeletionGuardHoldsForTheRun (issue 8, case 2): 10 messages are
// synced; another client expunges 6 on the server; the user writes 2 new
// local ones. The guard holds back the 6 local deletions; uploading the 2
// must not let a later pass of the same run (6 of 12 is not more than
// half) or a later run delete them. --allow-mass-delete then does.
func TestMassDeletionGuardHoldsForTheRun(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 10; i++ {
		fx.srv.Save(t, "INBOX", testMsg("guarded"))
	}
	fx.sync(t)
	for uid := uint32(1); uid <= 6; uid++ {
		fx.srv.Expunge(t, "INBOX", uid)
	}
	fx.deliver(t, "INBOX", testMsg("new local 1"), 0)
	fx.deliver(t, "INBOX", testMsg("new local 2"), 0)
	count := func() int {
		entries, err := fx.folder(t, "INBOX").Scan()
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	for run := 1; run <= 2; run++ {
		sum, err := fx.run(t, Options{})
		if err == nil || sum.DeletedLocal != 0 || len(sum.Errors) != 1 {
			t.Fatalf("run %d: guard did not hold, or said so more than once: %v %+v", run, err, sum)
		}
		if run == 1 && sum.Uploaded != 2 {
			t.Fatalf("run %d: uploaded %d, want 2", run, sum.Uploaded)
		}
		if n := count(); n != 12 {
			t.Fatalf("run %d: %d local files, want 12 (the held-back deletions were carried out)", run, n)
		}
	}
	sum, err := fx.run(t, Options{AllowMassDelete: true})
	if err != nil || sum.DeletedLocal != 6 {
		t.Fatalf("override: %v %+v", err, sum)
	}
	fx.assertInSync(t)
	if sum := fx.sync(t); sum.Changed() || len(sum.Errors) != 0 {
		t.Fatalf("after the override: %+v", sum)
	}
}
