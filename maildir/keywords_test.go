package maildir

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/model"
)

func TestKeywordsFileFormat(t *testing.T) {
	f := newInbox(t)
	// A file written by Dovecot, with a gap, a bad line and a repeat.
	orig := "0 $Junk\n2 NonJunk\nbogus line\n30 TooHigh\n2 Again\n"
	if err := os.WriteFile(filepath.Join(f.Path(), KeywordsFile), []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := f.Keywords()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := k.Name('a'); n != "$Junk" {
		t.Errorf("a = %q", n)
	}
	if n, _ := k.Name('c'); n != "NonJunk" {
		t.Errorf("c = %q", n)
	}
	if _, ok := k.Name('b'); ok {
		t.Error("b is named")
	}
	if l, ok := k.Letter("$junk"); !ok || l != 'a' {
		t.Errorf("letter of $junk: %c %v (names compare case-insensitively)", l, ok)
	}
	k, err = f.AddKeywords("$hello", "NonJunk", "$world")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(f.Path(), KeywordsFile))
	// Existing entries keep their numbers; new ones take the free slots.
	if got, want := string(data), "0 $Junk\n1 $hello\n2 NonJunk\n3 $world\n"; got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	if got, missing := k.LettersOf([]string{"$world", "$JUNK", "nope"}); got != "ad" || len(missing) != 1 {
		t.Errorf("LettersOf = %q %v", got, missing)
	}
	if got := strings.Join(k.NamesOf("FSadz"), " "); got != "$Junk $world" {
		t.Errorf("NamesOf = %q", got)
	}
	// No temporary or lock file is left behind.
	ents, _ := os.ReadDir(f.Path())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+KeywordsFile) || strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestKeywordsFull(t *testing.T) {
	md, _ := Open(t.TempDir())
	f, _ := md.CreateFolder("INBOX")
	var names []string
	for i := 0; i < 27; i++ {
		names = append(names, "kw"+string(rune('A'+i)))
	}
	k, err := f.AddKeywords(names...)
	if err != ErrTooManyKeywords {
		t.Fatalf("27 keywords: %v", err)
	}
	if len(k.All()) != 26 {
		t.Errorf("%d keywords kept", len(k.All()))
	}
}

func TestKeywordsConcurrentAdd(t *testing.T) {
	md, _ := Open(t.TempDir())
	f, _ := md.CreateFolder("INBOX")
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			g, _ := md.Folder("INBOX") // a separate Folder, as another process would have
			if _, err := g.AddKeywords("k" + string(rune('a'+i))); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	k, _ := f.Keywords()
	if len(k.All()) != 10 {
		t.Errorf("after 10 concurrent adds: %v", k.All())
	}
}

func TestSetInfoKeepsUnknownLetters(t *testing.T) {
	md, _ := Open(t.TempDir())
	f, _ := md.CreateFolder("INBOX")
	e, err := f.DeliverFrom(strings.NewReader("Subject: x\n\nbody\n"), model.FlagSeen, "az", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != e.Key+":2,Saz" {
		t.Fatalf("delivered as %s", e.Name)
	}
	// The caller manages a and b; z is a keyword it does not know.
	e, err = f.SetInfo(e.Key, model.FlagFlagged, "b", "ab")
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != e.Key+":2,Fbz" {
		t.Errorf("after SetInfo: %s", e.Name)
	}
	// SetFlags keeps every keyword letter.
	e, err = f.SetFlags(e.Key, model.FlagSeen)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != e.Key+":2,Sbz" {
		t.Errorf("after SetFlags: %s", e.Name)
	}
}

func TestStageDiscardAndMoveToCur(t *testing.T) {
	md, _ := Open(t.TempDir())
	f, _ := md.CreateFolder("INBOX")
	s, err := f.Stage(strings.NewReader("x"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s.Discard()
	if ents, _ := os.ReadDir(filepath.Join(f.Path(), "tmp")); len(ents) != 0 {
		t.Errorf("Discard left %d files in tmp/", len(ents))
	}
	e, err := f.DeliverFrom(strings.NewReader("y"), 0, "", time.Time{})
	if err != nil || e.Dir != "new" {
		t.Fatalf("deliver: %v %+v", err, e)
	}
	e, err = f.MoveToCur(e.Key)
	if err != nil || e.Dir != "cur" || e.Name != e.Key+":2," {
		t.Fatalf("MoveToCur: %v %+v", err, e)
	}
}

// TestKeywordLockLeftByAKilledRun: a run killed while it held
// dovecot-keywords.lock leaves the lock file. The next run, moments
// later, breaks it at once, because the process it names is gone, and
// does not fail with "locked by another program" (randomized test,
// MAILSYNC_TEST_SERVER=serve MAILSYNC_SEED=1796584923355661475: the
// settling run after a killed one failed). A lock of a live process, or
// one whose holder cannot be told, is waited for; one older than
// keywordLockStale is broken.
func TestKeywordLockLeftByAKilledRun(t *testing.T) {
	f := newInbox(t)
	lock := filepath.Join(f.Path(), KeywordsFile+".lock")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	defer func(w time.Duration) { keywordLockWait = w }(keywordLockWait)
	keywordLockWait = 300 * time.Millisecond

	// The lock of a process that is gone.
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%d:%s", dead.Process.Pid, host)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddKeywords("$Junk"); err != nil {
		t.Fatalf("lock of a process that is gone: %v", err)
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Fatalf("the lock is still there after AddKeywords: %v", err)
	}

	// A live holder, a holder on another host, and a lock of unknown
	// format are waited for, then named in the error.
	for _, content := range []string{lockOwner(), fmt.Sprintf("%d:other-host.example", dead.Process.Pid), ""} {
		if err := os.WriteFile(lock, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := f.AddKeywords("Held" + strconv.Itoa(len(content)))
		if err == nil || !strings.Contains(err.Error(), "locked by another program") || !strings.Contains(err.Error(), lock) {
			t.Fatalf("lock %q: got %v, want the lock named", content, err)
		}
		// Released by its holder while waited for: taken.
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Remove(lock)
		}()
		if _, err := f.AddKeywords("Later" + strconv.Itoa(len(content))); err != nil {
			t.Fatalf("lock %q released meanwhile: %v", content, err)
		}
	}

	// Too old, whoever holds it.
	if err := os.WriteFile(lock, []byte(lockOwner()), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-keywordLockStale - time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddKeywords("Old"); err != nil {
		t.Fatalf("old lock: %v", err)
	}
	k, err := f.Keywords()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"$Junk", "Later" + strconv.Itoa(len(lockOwner())), "Later0", "Old"} {
		if _, ok := k.Letter(n); !ok {
			t.Errorf("keyword %s not written", n)
		}
	}
}

// newInbox returns the INBOX of a new Maildir in a temporary directory.
func newInbox(t *testing.T) *Folder {
	t.Helper()
	md, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := md.CreateFolder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return f
}
