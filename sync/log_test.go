package sync

import (
	"fmt"
	"io"
	"os"
	"strings"
	gosync "sync"
	"testing"

	"github.com/mailsync/mailsync/model"
)

// TestLogConvention: with no Logf the engine writes nothing to stdout or
// stderr; with one, every line is a note, a "warning: " that is also in
// the summary's warnings, or an "error: " that is also in its errors.
func TestLogConvention(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.staleState = true // the held-back deletions stay unsynced
	for i := 0; i < 6; i++ {
		fx.srv.Save(t, "INBOX", testMsg("log"))
	}
	fx.srv.Save(t, "Sent", testMsg("sent"))
	fx.sync(t)
	// An error (the guard holds back 6 deletions) and a warning (a synced
	// folder's directory is gone); later a note (a new local folder is
	// created on the server).
	inbox := fx.folder(t, "INBOX")
	entries, _ := inbox.Scan()
	for _, en := range entries {
		inbox.Remove(en.Key)
	}
	if err := os.RemoveAll(fx.folder(t, "Sent").Path()); err != nil {
		t.Fatal(err)
	}

	// Silent by default: stdout and stderr stay empty.
	out := captureStdio(t, func() {
		if _, err := fx.run(t, Options{}); err == nil {
			t.Fatal("the guard's error was not reported")
		}
	})
	if out != "" {
		t.Fatalf("the engine wrote to stdout/stderr without a Logf: %q", out)
	}

	fx.deliver(t, "New", testMsg("new folder"), model.FlagSeen)
	var mu gosync.Mutex
	var lines []string
	sum, _ := fx.run(t, Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
	}})
	var warnings, errs, notes int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "warning: "):
			warnings++
			if !inList(sum.Warnings, strings.TrimPrefix(l, "warning: ")) {
				t.Errorf("warning not in the summary: %q", l)
			}
		case strings.HasPrefix(l, "error: "):
			errs++
			if !inList(sum.Errors, strings.TrimPrefix(l, "error: ")) {
				t.Errorf("error not in the summary: %q", l)
			}
		default:
			notes++
		}
	}
	if warnings != len(sum.Warnings) || errs != len(sum.Errors) || warnings == 0 || errs == 0 || notes == 0 {
		t.Fatalf("%d warnings, %d errors, %d notes logged; summary %+v; lines %q", warnings, errs, notes, sum, lines)
	}
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// captureStdio runs fn with stdout and stderr redirected and returns what
// was written.
func captureStdio(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
	}()
	fn()
	os.Stdout, os.Stderr = oldOut, oldErr
	w.Close()
	return <-done
}
