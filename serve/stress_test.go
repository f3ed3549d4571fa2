package serve

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/maildir"
)

// Test50Clients: 50 clients at once do random STOREs (flags and
// keywords), EXPUNGEs, APPENDs and COPYs on the same folder; afterwards
// every session, brought up to date by a NOOP, sees exactly the messages
// and flags that are in the Maildir (run with -race).
func Test50Clients(t *testing.T) {
	const clients, ops = 50, 12
	e := newEnv(t, func(o *Options) { o.MaxConnsPerAddr = clients + 10; o.MaxConns = clients + 10 })
	for i := 0; i < 20; i++ {
		e.deliver("INBOX", fmt.Sprintf("Message-ID: <seed%d@x>\nSubject: seed %d\n\nx\n", i, i), 0, time.Now())
	}
	e.folder("Other")
	cs := make([]*imapclient.Client, clients)
	for i := range cs {
		cs[i] = e.dial(nil)
		if _, err := cs[i].Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c *imapclient.Client) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(i)))
			flags := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered, "$label1", "$label2"}
			for op := 0; op < ops; op++ {
				n := c.Mailbox().NumMessages
				var err error
				switch k := r.Intn(10); {
				case k < 4 && n > 0:
					seq := uint32(r.Intn(int(n))) + 1
					f := []imap.Flag{flags[r.Intn(len(flags))]}
					ops := []imap.StoreFlagsOp{imap.StoreFlagsAdd, imap.StoreFlagsDel, imap.StoreFlagsSet}
					err = c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: ops[r.Intn(3)], Silent: r.Intn(2) == 0, Flags: f}, nil).Close()
				case k < 6 && n > 0:
					seq := uint32(r.Intn(int(n))) + 1
					if err = c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err == nil {
						err = c.Expunge().Close()
					}
				case k < 8:
					msg := fmt.Sprintf("Message-ID: <c%d.%d@x>\r\nSubject: from %d\r\n\r\nbody\r\n", i, op, i)
					cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{flags[r.Intn(len(flags))]}})
					cmd.Write([]byte(msg))
					cmd.Close()
					_, err = cmd.Wait()
				case n > 0:
					seq := uint32(r.Intn(int(n))) + 1
					dest := "Other"
					if r.Intn(2) == 0 {
						dest = "INBOX"
					}
					_, err = c.Copy(imap.SeqSetNum(seq), dest).Wait()
				}
				if err != nil && !strings.Contains(err.Error(), "EXPUNGEISSUED") {
					t.Errorf("client %d op %d: %v", i, op, err)
					return
				}
			}
		}(i, c)
	}
	wg.Wait()

	// What the Maildir holds: Message-ID and flags (keywords by name).
	f := e.folder("INBOX")
	kw, err := f.Keywords()
	must(t, err)
	var disk []string
	for key, en := range e.files("INBOX") {
		body, _, err := f.ReadFile(key)
		must(t, err)
		disk = append(disk, msgLine(messageID(string(body)), imapFlags(en.Flags), kw.NamesOf(maildir.KeywordLetters(en.Info))))
	}
	sort.Strings(disk)
	for i, c := range cs {
		must(t, c.Noop().Wait())
		if got := c.Mailbox().NumMessages; int(got) != len(disk) {
			t.Errorf("client %d: %d messages after NOOP, Maildir has %d", i, got, len(disk))
			continue
		}
		if len(disk) == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect()
		must(t, err)
		var seen []string
		for _, m := range msgs {
			var std, kws []imap.Flag
			for _, fl := range m.Flags {
				switch {
				case fl == flagRecent:
				case strings.HasPrefix(string(fl), `\`) || fl == "$Forwarded":
					std = append(std, fl)
				default:
					kws = append(kws, fl)
				}
			}
			var names []string
			for _, k := range kws {
				names = append(names, string(k))
			}
			for _, b := range m.BodySection {
				seen = append(seen, msgLine(messageID(string(b.Bytes)), std, names))
			}
		}
		sort.Strings(seen)
		if strings.Join(seen, "\n") != strings.Join(disk, "\n") {
			t.Errorf("client %d sees:\n%s\nMaildir has:\n%s", i, strings.Join(seen, "\n"), strings.Join(disk, "\n"))
		}
	}
}

func msgLine(id string, std []imap.Flag, kws []string) string {
	var s []string
	for _, f := range std {
		s = append(s, string(f))
	}
	sort.Strings(s)
	sort.Strings(kws)
	return id + " " + strings.Join(s, ",") + " " + strings.Join(kws, ",")
}

func messageID(msg string) string {
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(strings.ToLower(l), "message-id:") {
			return strings.TrimSpace(l[len("message-id:"):])
		}
	}
	return "?"
}
