package sync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

// TestRemoteContract checks the contract of the Remote port, as
// documented in ports.go, against the test server (Dovecot, or mailsync
// serve with MAILSYNC_TEST_SERVER=serve): the engine relies on each of
// these on every server.
func TestRemoteContract(t *testing.T) {
	fx := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var c Remote
	c, err := imapconn.Dial(ctx, fx.acct.IMAP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const folder = "Contract"
	if err := c.CreateFolder(ctx, folder); err != nil {
		t.Fatal(err)
	}
	folders, _, err := c.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, f := range folders {
		found = found || f.Name == folder
		if i > 0 && folders[i-1].Name >= f.Name {
			t.Errorf("ListFolders not sorted: %q before %q", folders[i-1].Name, f.Name)
		}
	}
	if !found {
		t.Fatalf("created folder not listed: %+v", folders)
	}

	// AppendBatch: done once per message, in order.
	bodies := [][]byte{testMsg("one"), testMsg("two"), testMsg("three")}
	var reqs []model.AppendReq
	for i, b := range bodies {
		var fl model.Flags
		if i == 1 {
			fl = model.FlagFlagged | model.FlagSeen
		}
		reqs = append(reqs, model.AppendReq{Flags: fl, Body: model.ToCRLF(b)})
	}
	var order []int
	if err := c.AppendBatch(ctx, folder, reqs, func(i int, _ model.AppendResult) error {
		order = append(order, i)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("done calls %v, want [0 1 2]", order)
	}

	// Select and ListMessages: every message, with its CRLF size.
	st, err := c.Select(ctx, folder, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity == 0 || st.Messages != 3 {
		t.Fatalf("status %+v", st)
	}
	msgs, err := c.ListMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("listed %d messages", len(msgs))
	}
	for i, m := range msgs {
		if m.Size != model.CRLFSize(bodies[i]) {
			t.Errorf("uid %d: size %d, want %d", m.UID, m.Size, model.CRLFSize(bodies[i]))
		}
	}
	uids, err := c.UIDs(ctx)
	if err != nil || len(uids) != 3 {
		t.Fatalf("UIDs %v %v", uids, err)
	}

	// Fingerprints: equal to the local ones; a missing UID is absent.
	missing := msgs[2].UID + 100
	fps, err := c.Fingerprints(ctx, []model.UID{msgs[0].UID, missing})
	if err != nil {
		t.Fatal(err)
	}
	if len(fps) != 1 || fps[msgs[0].UID] != model.LocalFingerprint(bodies[0]) {
		t.Fatalf("fingerprints %v", fps)
	}

	// FetchBodies does not set \Seen.
	var fetched int
	if err := c.FetchBodies(ctx, []model.UID{msgs[0].UID, msgs[1].UID}, func(m model.Message) error {
		fetched++
		return nil
	}); err != nil || fetched != 2 {
		t.Fatalf("fetched %d: %v", fetched, err)
	}
	// StoreFlags touches only the given flags of the given messages.
	if err := c.StoreFlags(ctx, []model.UID{msgs[1].UID}, true, model.FlagReplied); err != nil {
		t.Fatal(err)
	}
	if err := c.StoreFlags(ctx, []model.UID{msgs[1].UID}, false, model.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	after, err := c.ListMessages(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Flags&model.FlagSeen != 0 {
		t.Errorf("FetchBodies set \\Seen")
	}
	if after[1].Flags != model.FlagReplied|model.FlagSeen {
		t.Errorf("flags after StoreFlags: %v, want RS", after[1].Flags)
	}

	// Expunge removes exactly the given UIDs, not a message another
	// client marked \Deleted.
	fx.srv.AddFlags(t, folder, uint32(msgs[0].UID), `\Deleted`)
	if _, err := c.Select(ctx, folder, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge(ctx, []model.UID{msgs[2].UID}); err != nil && !errors.Is(err, imapconn.ErrExpungeDeferred) {
		t.Fatal(err)
	}
	left := fx.srv.Messages(t, folder)
	if len(left) != 2 || left[0].UID != uint32(msgs[0].UID) || left[1].UID != uint32(msgs[1].UID) {
		t.Fatalf("after expunging uid %d: %+v", msgs[2].UID, left)
	}

	// A read-only Select (verify) changes nothing.
	if st, err := c.Select(ctx, folder, true); err != nil || st.Messages != 2 {
		t.Fatalf("examine: %+v %v", st, err)
	}
}
