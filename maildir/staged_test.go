package maildir

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
)

// TestStageFileAndRemoveStaged: StageFile writes through a function
// that may rewrite the file in place (model.LocalFormWriter), and
// delivers what it wrote; RemoveStaged removes the staged files left
// undelivered that match, and no other file of tmp/.
func TestStageFileAndRemoveStaged(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	wire := []byte("Subject: s\r\n\r\nline\r\nodd\r\r\nend\r\n")
	stage := func(wire []byte) *Staged {
		st, err := f.StageFile(func(fh *os.File) error {
			w := model.NewLocalFormWriter(fh)
			if _, err := w.Write(wire); err != nil {
				return err
			}
			return w.Close()
		}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	en, err := stage(wire).Deliver(model.FlagSeen, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := f.ReadFile(en.Key)
	if err != nil || !bytes.Equal(got, model.LocalForm(wire)) || en.Size != int64(len(got)) {
		t.Fatalf("delivered %q (size %d), %v; want %q", got, en.Size, err, model.LocalForm(wire))
	}

	// Left by a crash: two staged files, and another program's file.
	stage([]byte("keep\r\n"))
	stage([]byte("drop\r\n"))
	other := filepath.Join(f.Path(), "tmp", "123.M1P1.other")
	if err := os.WriteFile(other, []byte("drop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(other)
	err = f.RemoveStaged(func(r io.ReaderAt, size int64) bool {
		b := make([]byte, size)
		r.ReadAt(b, 0)
		return string(b) == "drop\n"
	})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(f.Path(), "tmp"))
	var staged []string
	otherKept := false
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".staged") {
			staged = append(staged, e.Name())
		}
		otherKept = otherKept || e.Name() == filepath.Base(other)
	}
	if len(staged) != 1 || !otherKept {
		t.Fatalf("tmp/ holds %d staged files (want the kept one) and the other program's file: %v", len(staged), otherKept)
	}
	p := filepath.Join(f.Path(), "tmp", staged[0])
	if b, _ := os.ReadFile(p); string(b) != "keep\n" {
		t.Errorf("kept staged file holds %q", b)
	}
	os.Remove(p)
}

// TestManyStagedAtOnce: more messages staged before any is delivered
// than there are background fsync slots: StageFile waits for a slot
// instead of failing or leaking, every message is delivered whole with
// its size, the discarded ones are removed, and tmp/ ends empty.
func TestManyStagedAtOnce(t *testing.T) {
	_, f := newFolder(t, "INBOX")
	n := 3 * cap(stageSlots)
	var staged []*Staged
	for i := 0; i < n; i++ {
		body := strings.Repeat("x", i+1) + "\n"
		st, err := f.Stage(strings.NewReader(body), time.Unix(1_600_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, st)
	}
	for i, st := range staged {
		if i%5 == 0 {
			st.Discard()
			continue
		}
		if st.Size() != int64(i+2) {
			t.Fatalf("staged %d: size %d, want %d", i, st.Size(), i+2)
		}
		en, err := st.Deliver(0, "")
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := f.ReadFile(en.Key)
		if err != nil || len(got) != i+2 || en.Size != int64(i+2) || en.ModTime.Unix() != 1_600_000_000 {
			t.Fatalf("delivered %d: %d bytes, size %d, mtime %v, %v", i, len(got), en.Size, en.ModTime, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(f.Path(), "tmp"))
	if len(ents) != 0 {
		t.Fatalf("tmp/ holds %d files", len(ents))
	}
	if len(stageSlots) != 0 {
		t.Fatalf("%d fsync slots still taken", len(stageSlots))
	}
}
