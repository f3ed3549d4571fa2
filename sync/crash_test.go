package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailsync/mailsync/internal/crashpoint"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// The crash tests run the engine in a child process so that it can be
// stopped at any point: after its k-th durable step (internal/crashpoint)
// or by SIGKILL at a random moment. The child is sync/internal/crashchild,
// built once per test binary with the failpoint build tag: the step
// counter exists only in such builds, never in a release binary.

const (
	childEnv                = "MAILSYNC_TEST_CHILD_ACCOUNT"
	childAllowMassDeleteEnv = "MAILSYNC_TEST_CHILD_ALLOW_MASS_DELETE"
)

var (
	childOnce gosync.Once
	childBin  string
	childErr  error
)

// childBinary builds the crash helper with failpoints on.
func childBinary(t *testing.T) string {
	t.Helper()
	childOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailsync-crashchild")
		if err != nil {
			childErr = err
			return
		}
		childBin = filepath.Join(dir, "crashchild")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			gobin = "go"
		}
		cmd := exec.Command(gobin, "build", "-tags", crashpoint.Tag, "-o", childBin, "github.com/mailsync/mailsync/sync/internal/crashchild")
		if out, err := cmd.CombinedOutput(); err != nil {
			childErr = fmt.Errorf("build the crash helper: %v\n%s", err, out)
		}
	})
	if childErr != nil {
		t.Fatal(childErr)
	}
	return childBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if childBin != "" {
		os.RemoveAll(filepath.Dir(childBin))
	}
	os.Exit(code)
}

// child starts a sync of fx's account in a child process.
func (fx *fixture) child(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(fx.acct)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(childBinary(t))
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runChild runs a child sync to its end and returns its exit code.
func (fx *fixture) runChild(t *testing.T, env ...string) (int, string) {
	t.Helper()
	cmd := fx.child(t, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// fixedMsg is a message whose bytes depend only on its name, so that
// every iteration of a crash test works on the same mail.
func fixedMsg(name string) []byte {
	return []byte(fmt.Sprintf("From: Carol <carol@example.org>\nTo: Dan <dan@example.org>\nSubject: %s\nDate: Tue, 3 Sep 2024 09:00:00 +0000\nMessage-ID: <%s@crash.test>\n\nBody of %s.\n", name, strings.ReplaceAll(name, " ", "."), name))
}

// content is both sides' messages, folder by folder, as sorted
// "flags body" lines: what "the same result" means.
func (fx *fixture) content(t *testing.T) (server, local map[string][]string) {
	t.Helper()
	server, local = map[string][]string{}, map[string][]string{}
	for _, mb := range fx.srv.Mailboxes(t) {
		for _, m := range fx.srv.Messages(t, mb) {
			server[mb] = append(server[mb], model.FlagsFromIMAP(m.Flags).String()+" "+string(model.FromCRLF(m.Body)))
		}
		sort.Strings(server[mb])
	}
	names, err := fx.md.Folders()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		f := fx.folder(t, n)
		entries, err := f.Scan()
		if err != nil {
			t.Fatal(err)
		}
		local[n] = []string{}
		for _, en := range entries {
			data, _, err := f.ReadFile(en.Key)
			if err != nil {
				t.Fatal(err)
			}
			local[n] = append(local[n], en.Flags.String()+" "+string(data))
		}
		sort.Strings(local[n])
	}
	return server, local
}

type crashScenario struct {
	name string
	// setup brings a fresh fixture to the state just before the run
	// under test.
	setup func(t *testing.T, fx *fixture)
}

var crashScenarios = []crashScenario{
	{"initial", func(t *testing.T, fx *fixture) {
		for i := 0; i < 3; i++ {
			fx.srv.Save(t, "INBOX", fixedMsg(fmt.Sprintf("server inbox %d", i)))
		}
		fx.srv.Save(t, "Sent", fixedMsg("server sent"))
		fx.srv.AddFlags(t, "INBOX", 1, `\Seen`)
		fx.srv.AddFlags(t, "INBOX", 2, `\Flagged`)
		fx.deliver(t, "INBOX", fixedMsg("local inbox"), model.FlagSeen)
		fx.deliver(t, "INBOX", fixedMsg("server inbox 2"), 0) // already on the server too
		fx.deliver(t, "Local", fixedMsg("local folder"), 0)
	}},
	{"delta", func(t *testing.T, fx *fixture) {
		for i := 0; i < 4; i++ {
			fx.srv.Save(t, "INBOX", fixedMsg(fmt.Sprintf("base %d", i)))
		}
		fx.srv.Save(t, "Sent", fixedMsg("base sent"))
		fx.sync(t)
		// Server: new, flag change, expunge.
		fx.srv.Save(t, "INBOX", fixedMsg("new on server"))
		fx.srv.AddFlags(t, "INBOX", 1, `\Seen`)
		fx.srv.Expunge(t, "INBOX", 2)
		// Local: new, flag change (conflicting merge on uid 1), deletion.
		fx.deliver(t, "INBOX", fixedMsg("new locally"), model.FlagFlagged)
		fx.deliver(t, "Sent", fixedMsg("new local sent"), model.FlagSeen)
		inbox := fx.folder(t, "INBOX")
		keys := pairKeys(t, fx, "INBOX")
		if _, err := inbox.SetFlags(keys[1], model.FlagReplied); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Remove(keys[3]); err != nil {
			t.Fatal(err)
		}
	}},
}

// pairKeys returns the Maildir keys of a folder's pairs, by UID.
func pairKeys(t *testing.T, fx *fixture, folder string) map[model.UID]string {
	t.Helper()
	db := openState(t, fx)
	defer db.Close()
	st, err := db.Load(folder)
	if err != nil {
		t.Fatal(err)
	}
	out := map[model.UID]string{}
	for _, p := range st.Pairs {
		out[p.UID] = p.Key
	}
	return out
}

func newCrashFixture(t *testing.T) *fixture {
	fx := newFixture(t, nil)
	fx.acct.Connections = 1 // one order of steps, so that k means the same step each time
	return fx
}

// TestCrashAtEveryStep stops the sync right after each of its durable
// steps in turn, reruns it to completion, and checks that the result is
// the uninterrupted one and that one more run changes nothing.
func TestCrashAtEveryStep(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			// The uninterrupted run: the expected result and the number of steps.
			ref := newCrashFixture(t)
			sc.setup(t, ref)
			steps := filepath.Join(t.TempDir(), "steps")
			if code, out := ref.runChild(t, "MAILSYNC_STEP_LOG="+steps); code != 0 {
				t.Fatalf("reference run: exit %d: %s", code, out)
			}
			log, _ := os.ReadFile(steps)
			n := strings.Count(string(log), "\n")
			if n < 5 {
				t.Fatalf("only %d steps counted:\n%s", n, log)
			}
			t.Logf("%d durable steps:\n%s", n, log)
			wantServer, wantLocal := ref.content(t)
			ref.assertInSync(t)

			for k := 1; k <= n; k++ {
				t.Run(fmt.Sprintf("step%02d", k), func(t *testing.T) {
					fx := newCrashFixture(t)
					sc.setup(t, fx)
					code, out := fx.runChild(t, fmt.Sprintf("MAILSYNC_CRASH_AFTER=%d", k))
					if code != crashpoint.ExitCode {
						t.Fatalf("crashing run: exit %d, want %d: %s", code, crashpoint.ExitCode, out)
					}
					if code, out := fx.runChild(t); code != 0 {
						t.Fatalf("rerun: exit %d: %s", code, out)
					}
					gotServer, gotLocal := fx.content(t)
					if !equalContent(gotServer, wantServer) {
						t.Errorf("server after crash at step %d and rerun:\n got %q\nwant %q", k, gotServer, wantServer)
					}
					if !equalContent(gotLocal, wantLocal) {
						t.Errorf("Maildir after crash at step %d and rerun:\n got %q\nwant %q", k, gotLocal, wantLocal)
					}
					fx.assertInSync(t)
					if sum := fx.sync(t); sum.Changed() {
						t.Errorf("one more run changed something: %+v", sum)
					}
				})
			}
		})
	}
}

func equalContent(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || strings.Join(v, "\x00") != strings.Join(w, "\x00") {
			return false
		}
	}
	return true
}

// TestRandomKills SIGKILLs real runs at random moments until one
// finishes; server and Maildir must then agree with no duplicates.
func TestRandomKills(t *testing.T) {
	fx := newFixture(t, nil)
	fx.exempt.tmpFiles = true // a SIGKILL during a delivery leaves its tmp/ file
	wave := 0
	// addWork puts new mail on both sides.
	addWork := func() {
		for i := 0; i < 100; i++ {
			fx.srv.Save(t, "INBOX", fixedMsg(fmt.Sprintf("server %d.%d %s", wave, i, strings.Repeat("x", i*200))))
		}
		for i := 0; i < 60; i++ {
			fx.deliver(t, "Archive", fixedMsg(fmt.Sprintf("local %d.%d %s", wave, i, strings.Repeat("y", i*300))), model.FlagSeen)
		}
		wave++
	}
	addWork()
	rng := rand.New(rand.NewSource(1))
	const wantKills = 8
	kills := 0
	for attempt := 0; attempt < 60; attempt++ {
		cmd := fx.child(t)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Until wantKills kills have landed, every run is killed at a
		// random moment; the run after that is left to finish.
		var kill <-chan time.Time
		if kills < wantKills {
			kill = time.After(time.Duration(5+rng.Intn(400)) * time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run failed: %v: %s", err, stderr.String())
			}
			if kills < wantKills {
				// Finished before its kill (a fast machine): more work.
				addWork()
				continue
			}
			t.Logf("finished after %d kills, %d waves of mail", kills, wave)
			fx.assertInSync(t)
			if sum := fx.sync(t); sum.Changed() {
				t.Fatalf("one more run changed something: %+v", sum)
			}
			return
		case <-kill:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	t.Fatal("no run finished in 60 attempts")
}

// TestConnectionCutDuringAppend cuts the connection after the server
// stored an APPENDed message but before its OK reached us: the retry
// must find the message instead of uploading it again.
func TestConnectionCutDuringAppend(t *testing.T) {
	for _, opts := range []*dovecottest.Options{nil, {NoUIDPlus: true}} {
		name := "uidplus"
		if opts != nil {
			name = "no-uidplus"
		}
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t, opts)
			proxy := dovecottest.NewProxy(t, fx.srv.Addr)
			fx.acct.IMAP.Host, fx.acct.IMAP.Port = proxy.Host, proxy.Port
			fx.srv.Save(t, "INBOX", fixedMsg("already there"))
			fx.sync(t)
			fx.deliver(t, "INBOX", fixedMsg("cut upload"), model.FlagSeen)
			proxy.CutAfter([]byte(appendOK()))
			sum := fx.sync(t)
			if proxy.Cuts() != 1 {
				t.Fatalf("proxy cut %d times", proxy.Cuts())
			}
			t.Logf("summary %+v", sum)
			fx.assertInSync(t)
			if n := len(fx.srv.Messages(t, "INBOX")); n != 2 {
				t.Fatalf("%d messages on the server, want 2", n)
			}
		})
	}
}

// TestRenamesDuringSync has another program change flags (rename files)
// in a loop while syncs run: nothing may be taken for deleted.
func TestRenamesDuringSync(t *testing.T) {
	fx := newFixture(t, nil)
	for i := 0; i < 40; i++ {
		fx.srv.Save(t, "INBOX", fixedMsg(fmt.Sprintf("renamed %d", i)))
	}
	fx.sync(t)
	inbox := fx.folder(t, "INBOX")
	entries, _ := inbox.Scan()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			en := entries[i%len(entries)]
			// Toggle a keyword letter: a rename that changes no synced flag.
			info := "a"
			if i/len(entries)%2 == 1 {
				info = ""
			}
			old, err := inbox.Lookup(en.Key)
			if err != nil {
				continue
			}
			os.Rename(inbox.EntryPath(old), filepath.Join(inbox.Path(), "cur", en.Key+":2,"+old.Flags.Letters()+info))
		}
	}()
	for i := 0; i < 5; i++ {
		sum, err := fx.run(t, Options{})
		if err != nil {
			close(stop)
			t.Fatal(err)
		}
		if sum.ExpungedRemote != 0 || sum.Uploaded != 0 || sum.Downloaded != 0 {
			close(stop)
			t.Fatalf("renames were taken for changes: %+v", sum)
		}
	}
	close(stop)
	<-finished
	if n := len(fx.srv.Messages(t, "INBOX")); n != 40 {
		t.Fatalf("server has %d messages, want 40", n)
	}
	fx.assertInSync(t)
}
