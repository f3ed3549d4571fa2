package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/serve"
	"github.com/mailsync/mailsync/sync"
)

// Options are the demo's switches.
type Options struct {
	// Dir holds everything the demo writes: archive/ (the served
	// Maildir), copy/ (the synced one) and state/.
	Dir string
	// Listen is the address to serve on; when it is taken, a free
	// loopback port is used instead.
	Listen string
	// Wait keeps serving until ctx is done.
	Wait bool
	Out  io.Writer
	// Progress, if set, receives the syncs' progress.
	Progress sync.Progress
}

// DefaultDir is where the demo writes when no directory is given.
func DefaultDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("mailsync-demo-%d", os.Getuid()))
}

// Run runs the demo.
func Run(ctx context.Context, o Options) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	archive := filepath.Join(o.Dir, "archive")
	copyDir := filepath.Join(o.Dir, "copy")
	statePath := filepath.Join(o.Dir, "state", "demo.db")
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	if md, err := maildir.Open(archive); err == nil && md.Exists() {
		say("1. Sample archive: reusing %s", archive)
	} else {
		n, folders, err := WriteSample(archive)
		if err != nil {
			return fmt.Errorf("demo: write the sample archive: %w", err)
		}
		say("1. Sample archive: wrote %d messages in %d folders to %s", n, folders, archive)
	}

	password, err := randomPassword()
	if err != nil {
		return err
	}
	srv, err := serve.New(serve.Options{Maildir: archive, User: "demo", Password: password, AllowInsecureAuth: true})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo: listen: %w", err)
		}
	}
	addr := ln.Addr().(*net.TCPAddr)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	say("2. Serving it over IMAP at %s (mailsync serve)", addr)

	freshCopy := true
	if md, err := maildir.Open(copyDir); err == nil && md.Exists() {
		freshCopy = false
	}
	acct := sync.Account{
		Name: "demo",
		IMAP: imapconn.Options{Host: addr.IP.String(), Port: addr.Port, TLS: "none", User: "demo", Password: password,
			DialTimeout: 10 * time.Second},
		Maildir:   copyDir,
		StatePath: statePath,
	}
	sum, err := sync.Run(ctx, acct, sync.Options{Progress: o.Progress})
	if err != nil {
		return syncFailed(sum, err)
	}
	say("3. Synced the served archive into %s:\n   %s", copyDir, sum)

	if freshCopy {
		if err := changeCopy(copyDir); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		say("4. Changed the copy as a mail client would: marked the invoice read and\n   wrote a new note in INBOX. Syncing back:")
		sum, err = sync.Run(ctx, acct, sync.Options{Progress: o.Progress})
		if err != nil {
			return syncFailed(sum, err)
		}
		say("   %s", sum)
	}
	rep, err := sync.Verify(ctx, acct, sync.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("demo: verify: %w", err)
	}
	if len(rep.Differences) > 0 {
		for _, d := range rep.Differences {
			say("   difference: %s", d)
		}
		return fmt.Errorf("demo: verify found %d differences", len(rep.Differences))
	}
	say("5. Verified: %d messages in %d folders are byte-identical on both sides.", rep.Checked, rep.Folders)
	say("")
	say("Browse the archive with any IMAP client (loopback only, no TLS):")
	say("   server %s  port %d  user demo  password %s  security: none", addr.IP, addr.Port, password)
	say("   mutt:        mutt -e 'set ssl_force_tls=no ssl_starttls=no' -f 'imap://demo:%s@%s/INBOX'", password, addr)
	say("   Thunderbird: new mail account → manual config → IMAP %s:%d, \"None\", \"Normal password\"", addr.IP, addr.Port)
	say("   Python:      python3 -c \"import imaplib; c=imaplib.IMAP4('%s', %d); c.login('demo','%s'); print(c.list())\"", addr.IP, addr.Port, password)
	say("Changes you make there land in %s; run `mailsync demo` again to see them synced.", archive)
	if !o.Wait {
		return nil
	}
	say("Serving until Ctrl-C.")
	select {
	case <-ctx.Done():
		say("\nStopped.")
		return nil
	case err := <-serveErr:
		return err
	}
}

// changeCopy makes the local changes of step 4.
func changeCopy(root string) error {
	md, err := maildir.Open(root)
	if err != nil {
		return err
	}
	inbox, err := md.Folder(model.Inbox)
	if err != nil {
		return err
	}
	entries, err := inbox.Scan()
	if err != nil {
		return err
	}
	for _, en := range entries {
		data, _, err := inbox.ReadFile(en.Key)
		if err != nil {
			return err
		}
		if en.Flags&model.FlagSeen == 0 && containsInvoice(data) {
			if _, err := inbox.SetFlags(en.Key, en.Flags|model.FlagSeen); err != nil {
				return err
			}
		}
	}
	note := "From: You <you@example.org>\nTo: You <you@example.org>\nSubject: Note written offline\nDate: " +
		time.Now().Format(time.RFC1123Z) + "\nMessage-ID: <note-" + fmt.Sprint(time.Now().UnixNano()) + "@demo.mailsync.invalid>\n\nWritten in the synced copy; mailsync uploaded it.\n"
	_, err = inbox.DeliverSync([]byte(note), 0, time.Now())
	return err
}

func containsInvoice(b []byte) bool {
	return bytes.Contains(model.HeaderBlock(b), []byte("Subject: Invoice"))
}

func syncFailed(sum *sync.Summary, err error) error {
	if sum != nil && len(sum.Errors) > 0 {
		return fmt.Errorf("demo: sync: %w: %s", err, strings.Join(sum.Errors, "; "))
	}
	return fmt.Errorf("demo: sync: %w", err)
}

func randomPassword() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("demo: no randomness for a password")
	}
	return hex.EncodeToString(b), nil
}
