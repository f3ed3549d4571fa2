package sync

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestVerifyFindsEveryKindOfDifferenceAndChangesNothing(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.staleState = true // verify runs on changes no sync has seen
	seed(t, fx)
	fx.sync(t)
	ctx := context.Background()
	rep, err := Verify(ctx, fx.acct, VerifyOptions{})
	if err != nil || len(rep.Differences) != 0 || rep.Checked != 12 {
		t.Fatalf("in sync: %v %+v", err, rep)
	}

	inbox := fx.folder(t, "INBOX")
	entries, _ := inbox.Scan()
	// Same size, other content: only the full check sees it.
	data, en, _ := inbox.ReadFile(entries[0].Key)
	tampered := []byte(strings.Replace(string(data), "Hello", "Jello", 1))
	if err := os.WriteFile(inbox.EntryPath(en), tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	// Size and mtime as before: damage, not an edit (which verify
	// reports as a change: TestEditedFileIsReplaced).
	if err := os.Chtimes(inbox.EntryPath(en), en.ModTime, en.ModTime); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Remove(entries[1].Key); err != nil {
		t.Fatal(err)
	}
	fx.deliver(t, "INBOX", testMsg("unsynced local"), 0)
	fx.srv.Save(t, "Sent", testMsg("unsynced remote"))
	fx.srv.AddFlags(t, "Archive/2024", 1, `\Flagged`)

	serverBefore, localBefore := fx.content(t)
	rep, err = Verify(ctx, fx.acct, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Differences {
		got = append(got, d.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"content differs", "gone from the Maildir, still on the server", "only in the Maildir (not synced yet)", "only on the server (not synced yet)", "flags differ: server F, Maildir -"} {
		if !strings.Contains(all, want) {
			t.Errorf("report lacks %q:\n%s", want, all)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d differences, want 5:\n%s", len(got), all)
	}
	quick, err := Verify(ctx, fx.acct, VerifyOptions{Quick: true})
	if err != nil || len(quick.Differences) != 4 {
		t.Errorf("quick: %v %d differences, want 4 (no content check)", err, len(quick.Differences))
	}
	serverAfter, localAfter := fx.content(t)
	if !equalContent(serverBefore, serverAfter) || !equalContent(localBefore, localAfter) {
		t.Fatal("verify changed a side (a \\Seen flag set by fetching?)")
	}
}
