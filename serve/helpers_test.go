package serve

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

const (
	testUser = "alice"
	testPass = "s3cret pass"
)

// testEnv is a Maildir in a temporary directory with a server on it.
type testEnv struct {
	t    *testing.T
	root string
	md   *maildir.Maildir
	srv  *Server
	addr string
	opts Options
	done chan error
}

func newEnv(t *testing.T, mutate func(*Options)) *testEnv {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mail")
	md, err := maildir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := md.CreateFolder(model.Inbox); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, root: root, md: md}
	e.opts = Options{
		Maildir:           root,
		User:              testUser,
		Password:          testPass,
		AllowInsecureAuth: true,
		PollInterval:      100 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&e.opts)
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *testEnv) start() {
	e.t.Helper()
	srv, err := New(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv, e.addr, e.done = srv, ln.Addr().String(), make(chan error, 1)
	go func() { e.done <- srv.Serve(ln) }()
}

func (e *testEnv) stop() {
	if e.srv == nil {
		return
	}
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("close: %v", err)
	}
	if err := <-e.done; err != nil {
		e.t.Errorf("serve: %v", err)
	}
	e.srv = nil
}

func (e *testEnv) restart() {
	e.stop()
	e.start()
}

// recorder collects unilateral data a client receives.
type recorder struct {
	mu       sync.Mutex
	expunges []uint32
	exists   []uint32
	fetches  map[uint32][]imap.Flag
}

func (r *recorder) handler() *imapclient.UnilateralDataHandler {
	r.fetches = make(map[uint32][]imap.Flag)
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			r.mu.Lock()
			r.expunges = append(r.expunges, seq)
			r.mu.Unlock()
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				r.mu.Lock()
				r.exists = append(r.exists, *d.NumMessages)
				r.mu.Unlock()
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.fetches[buf.SeqNum] = buf.Flags
			r.mu.Unlock()
		},
	}
}

func (r *recorder) snapshot() (expunges, exists []uint32, fetches map[uint32][]imap.Flag) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := make(map[uint32][]imap.Flag)
	for k, v := range r.fetches {
		f[k] = v
	}
	return append([]uint32(nil), r.expunges...), append([]uint32(nil), r.exists...), f
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expunges, r.exists = nil, nil
	r.fetches = make(map[uint32][]imap.Flag)
}

// dial logs in; rec may be nil.
func (e *testEnv) dial(rec *recorder) *imapclient.Client {
	e.t.Helper()
	opts := &imapclient.Options{}
	if rec != nil {
		opts.UnilateralDataHandler = rec.handler()
	}
	c, err := imapclient.DialInsecure(e.addr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		e.t.Fatalf("login: %v", err)
	}
	return c
}

func (e *testEnv) folder(name string) *maildir.Folder {
	e.t.Helper()
	f, err := e.md.CreateFolder(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

func (e *testEnv) deliver(folder string, body string, flags model.Flags, mtime time.Time) maildir.Entry {
	e.t.Helper()
	ent, err := e.folder(folder).DeliverSync([]byte(body), flags, mtime)
	if err != nil {
		e.t.Fatal(err)
	}
	return ent
}

// files returns folder's messages: key -> entry.
func (e *testEnv) files(folder string) map[string]maildir.Entry {
	e.t.Helper()
	ents, err := e.folder(folder).Scan()
	if err != nil {
		e.t.Fatal(err)
	}
	m := make(map[string]maildir.Entry)
	for _, en := range ents {
		m[en.Key] = en
	}
	return m
}

func (e *testEnv) bodies(folder string) []string {
	e.t.Helper()
	f := e.folder(folder)
	var out []string
	for k := range e.files(folder) {
		b, _, err := f.ReadFile(k)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func flagSet(flags []imap.Flag) string {
	var s []string
	for _, f := range flags {
		s = append(s, string(f))
	}
	return model.FlagsFromIMAP(s).String()
}

// needBinary returns the path of an external program, skipping the test
// when it is missing (failing in CI).
func needBinary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed (required in CI)", strings.Join(names, " or "))
	}
	t.Skipf("%s not installed", strings.Join(names, " or "))
	return ""
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasKeyword(flags []imap.Flag, kw string) bool {
	for _, f := range flags {
		if strings.EqualFold(string(f), kw) {
			return true
		}
	}
	return false
}
