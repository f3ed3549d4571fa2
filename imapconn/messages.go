package imapconn

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/mailsync/mailsync/model"
)

// Chunk sizes: UIDs per FETCH for bodies, and for the small commands.
const (
	bodyChunk  = 100
	smallChunk = 1000
)

func uidSet(uids []model.UID) imap.UIDSet {
	var s imap.UIDSet
	for _, u := range uids {
		s.AddNum(imap.UID(u))
	}
	return s
}

func chunks(uids []model.UID, n int) [][]model.UID {
	var out [][]model.UID
	for len(uids) > n {
		out = append(out, uids[:n])
		uids = uids[n:]
	}
	if len(uids) > 0 {
		out = append(out, uids)
	}
	return out
}

// ListMessages lists the selected folder: UID, flags and size of every
// message, sorted by UID. With changedSince > 0 and CONDSTORE, only the
// messages whose flags changed (or that arrived) since that mod-sequence
// are listed (CHANGEDSINCE); without CONDSTORE changedSince is ignored
// and every message is listed. Fingerprint is left empty. An empty folder
// (as of Select and the unilateral EXISTS seen since) is listed without a
// command. Changes made by other clients up to the call are seen.
func (c *Conn) ListMessages(ctx context.Context, changedSince uint64) (msgs []model.RemoteMsg, err error) {
	return c.listMessages(ctx, 1, 0, changedSince)
}

// ListUIDRange is ListMessages for the messages of UIDs lo to hi alone,
// all of them.
func (c *Conn) ListUIDRange(ctx context.Context, lo, hi model.UID) ([]model.RemoteMsg, error) {
	if lo == 0 || hi < lo {
		return nil, nil
	}
	return c.listMessages(ctx, lo, hi, 0)
}

// listMessages lists the messages of UIDs lo to hi (0: *).
func (c *Conn) listMessages(ctx context.Context, lo, hi model.UID, changedSince uint64) (msgs []model.RemoteMsg, err error) {
	end, err := c.beginSelected(ctx, "list messages", true)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if c.selectedEmpty() {
		return nil, nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true}
	if changedSince > 0 && c.caps.CondStore {
		opts.ChangedSince = changedSince
	}
	var all imap.UIDSet
	all.AddRange(imap.UID(lo), imap.UID(hi))
	cmd := c.client.Fetch(all, opts)
	defer cmd.Close()
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		buf, err := m.Collect()
		if err != nil {
			return nil, err
		}
		if buf.UID == 0 {
			continue
		}
		msgs = append(msgs, model.RemoteMsg{
			UID:      model.UID(buf.UID),
			Flags:    flagsOf(buf.Flags),
			Size:     buf.RFC822Size,
			Keywords: keywordsOf(buf.Flags),
		})
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	slices.SortFunc(msgs, func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) })
	return msgs, nil
}

func flagsOf(fl []imap.Flag) model.Flags {
	names := make([]string, len(fl))
	for i, f := range fl {
		names[i] = string(f)
	}
	return model.FlagsFromIMAP(names)
}

// keywordsOf returns the keywords of a FLAGS list (model.Keywords).
func keywordsOf(fl []imap.Flag) model.Keywords {
	names := make([]string, len(fl))
	for i, f := range fl {
		names[i] = string(f)
	}
	return model.KeywordsFromIMAP(names)
}

// UIDs returns the UIDs of the selected folder (UID SEARCH ALL), sorted,
// as of the call.
func (c *Conn) UIDs(ctx context.Context) (uids []model.UID, err error) {
	end, err := c.beginSelected(ctx, "list uids", true)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	return c.search(&imap.SearchCriteria{})
}

// refresh sends NOOP so that the server reports what other clients did
// since the last command (EXISTS, EXPUNGE, flag changes): Dovecot, for
// one, answers SEARCH and FETCH from the session's view, which only
// moves forward at such points. Called with c locked.
func (c *Conn) refresh() error {
	return c.client.Noop().Wait()
}

// selectedEmpty says whether the selected folder holds no message, as of
// the SELECT when nothing came since (go-imap's Mailbox() may still show
// the folder selected before: it catches up with the next command) and
// as of the NOOP that refresh sent otherwise. Called with c locked.
func (c *Conn) selectedEmpty() bool {
	if c.wasFresh {
		return c.selCount == 0
	}
	mb := c.client.Mailbox()
	return mb == nil || mb.NumMessages == 0
}

// search runs UID SEARCH. Called with c locked.
func (c *Conn) search(crit *imap.SearchCriteria) ([]model.UID, error) {
	data, err := c.client.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, err
	}
	var uids []model.UID
	for _, u := range data.AllUIDs() {
		uids = append(uids, model.UID(u))
	}
	slices.Sort(uids)
	return uids, nil
}

// Fingerprints returns model.Fingerprint(RFC822.SIZE, header) of the
// given messages of the selected folder. UIDs the server no longer has are
// absent from the map.
func (c *Conn) Fingerprints(ctx context.Context, uids []model.UID) (fps map[model.UID]string, err error) {
	end, err := c.beginSelected(ctx, "fetch fingerprints", false)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	fps = make(map[model.UID]string, len(uids))
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	for _, ch := range chunks(uids, smallChunk) {
		cmd := c.client.Fetch(uidSet(ch), &imap.FetchOptions{
			UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{hdr},
		})
		for {
			m := cmd.Next()
			if m == nil {
				break
			}
			buf, err := m.Collect()
			if err != nil {
				cmd.Close()
				return nil, err
			}
			if buf.UID == 0 {
				continue
			}
			fps[model.UID(buf.UID)] = model.Fingerprint(buf.RFC822Size, buf.FindBodySection(hdr))
		}
		if err := cmd.Close(); err != nil {
			return nil, err
		}
	}
	return fps, nil
}

// Message is one fetched message (model.Message).
type Message = model.Message

// meta is what the first pass of FetchBodies learns of a message.
type meta struct {
	flags model.Flags
	date  time.Time
	size  int64
}

// withinSize drops the UIDs whose RFC822.SIZE is above
// Options.MaxMessageSize, warning about each, so that no oversize body is
// ever asked for, and returns the flags, internal date and size of the
// others. Called with c locked.
func (c *Conn) withinSize(uids []model.UID) ([]model.UID, map[model.UID]meta, error) {
	max := c.opts.MaxMessageSize
	metas := make(map[model.UID]meta, len(uids))
	for _, ch := range chunks(uids, smallChunk) {
		cmd := c.client.Fetch(uidSet(ch), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true})
		for {
			m := cmd.Next()
			if m == nil {
				break
			}
			buf, err := m.Collect()
			if err != nil {
				cmd.Close()
				return nil, nil, err
			}
			if buf.UID != 0 {
				metas[model.UID(buf.UID)] = meta{flagsOf(buf.Flags), buf.InternalDate, buf.RFC822Size}
			}
		}
		if err := cmd.Close(); err != nil {
			return nil, nil, err
		}
	}
	kept := make([]model.UID, 0, len(uids))
	for _, u := range uids {
		if m, ok := metas[u]; ok && m.size > max {
			if c.opts.Warnf != nil {
				c.opts.Warnf("folder %q: message uid %d (%d bytes) is larger than max_message_size (%d bytes): skipped; raise max_message_size to sync it", c.selected, u, m.size, max)
			}
			delete(metas, u)
			continue
		}
		kept = append(kept, u)
	}
	return kept, metas, nil
}

// FetchBodies fetches the given messages of the selected folder
// (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]: \Seen is not set) and
// calls fn for each as it arrives, in the server's order, with Body
// reading the message from the connection: no message is held in memory
// (unless the server sends the body before the UID, which servers do
// not). UIDs the server no longer has are skipped. The UIDs go out in
// chunks of 100 with the next chunk's command sent before the current one
// is consumed. An error from fn stops the fetch (the rest of the
// responses in flight are read and dropped) and is returned wrapped
// (errors.Is finds it); an error reading Body is the connection's and
// ends it. fn must not call c. Messages larger than
// Options.MaxMessageSize (by RFC822.SIZE, asked for first) are not
// fetched: each is reported to Options.Warnf and fn is not called.
//
// The timeout applies while fn waits on Body, not while it does other
// work (writing to disk).
func (c *Conn) FetchBodies(ctx context.Context, uids []model.UID, fn func(Message) error) (err error) {
	end, err := c.beginSelected(ctx, "fetch messages", false)
	if err != nil {
		return err
	}
	defer end(&err)
	uids, metas, err := c.withinSize(uids)
	if err != nil {
		return err
	}
	body := &imap.FetchItemBodySection{Peek: true}
	opts := &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{body},
	}
	parts := chunks(uids, bodyChunk)
	if len(parts) == 0 {
		return nil
	}

	// Dovecot runs pipelined FETCH commands in parallel: the next
	// command's messages may arrive before the current one's tagged OK.
	// go-imap hands each message to its command and waits until its
	// literal is read, so every command in flight needs a reader. One
	// pump goroutine per command passes its messages here, one at a
	// time, in wire order; this goroutine reads each fully and acks it.
	out := make(chan fetched)
	fin := make(chan error)
	quit := make(chan struct{})
	running := 0
	start := func(uids []model.UID) {
		cmd := c.client.Fetch(uidSet(uids), opts)
		running++
		go pump(cmd, out, fin, quit)
	}
	const window = 2
	sent := 0
	for ; sent < len(parts) && sent < window; sent++ {
		start(parts[sent])
	}
	var firstErr error
	stop := func(e error) {
		if firstErr == nil {
			firstErr = e
			close(quit)
		}
	}
	for running > 0 {
		select {
		case f := <-out:
			if firstErr == nil {
				if err := c.readBody(f.m, body, metas, fn); err != nil {
					stop(err)
				}
			}
			close(f.ack)
		case err := <-fin:
			running--
			if err != nil {
				stop(err)
			}
			if firstErr == nil && sent < len(parts) {
				start(parts[sent])
				sent++
			}
		}
	}
	return firstErr
}

// fetched is one message handed from a pump to FetchBodies.
type fetched struct {
	m   *imapclient.FetchMessageData
	ack chan struct{}
}

// pump passes cmd's messages to out, waiting for each to be acked before
// taking the next (taking the next discards what is left of the previous),
// then reports cmd's result on fin. After quit it drains cmd silently.
func pump(cmd *imapclient.FetchCommand, out chan<- fetched, fin chan<- error, quit <-chan struct{}) {
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		ack := make(chan struct{})
		select {
		case out <- fetched{m, ack}:
			<-ack
			continue
		case <-quit:
		}
		break
	}
	fin <- cmd.Close()
}

// readBody reads one FETCH response and calls fn with it unless it is
// not an answer to our FETCH. The items that come before the body in the
// response are used; those missing are taken from metas (the first
// pass).
func (c *Conn) readBody(m *imapclient.FetchMessageData, want *imap.FetchItemBodySection, metas map[model.UID]meta, fn func(Message) error) error {
	var msg Message
	var held []byte // a body that came before the UID
	gotBody, gotFlags := false, false
	// call hands the message to fn, Size being what r gives.
	call := func(r io.Reader, size int64) error {
		msg.Size = size
		if md, ok := metas[msg.UID]; ok {
			if !gotFlags {
				msg.Flags = md.flags
			}
			if msg.InternalDate.IsZero() {
				msg.InternalDate = md.date
			}
		}
		br := &bodyReader{r: r, wd: c.wd, resume: c.wd.pause()}
		msg.Body = br
		err := fn(msg)
		br.resume()
		if br.err != nil {
			return fmt.Errorf("read body of uid %d: %w", msg.UID, br.err)
		}
		if err != nil {
			return &cmdErr{err}
		}
		return nil
	}
	for {
		item := m.Next()
		if item == nil {
			break
		}
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			msg.UID = model.UID(item.UID)
		case imapclient.FetchItemDataFlags:
			msg.Flags, gotFlags = flagsOf(item.Flags), true
			msg.Keywords = keywordsOf(item.Flags)
		case imapclient.FetchItemDataInternalDate:
			msg.InternalDate = item.Time
		case imapclient.FetchItemDataRFC822Size:
			msg.Size = item.Size
		case imapclient.FetchItemDataBodySection:
			if !item.MatchCommand(want) || gotBody {
				continue
			}
			gotBody = true
			var lit io.Reader = bytes.NewReader(nil) // NIL
			var size int64
			if item.Literal != nil {
				lit, size = item.Literal, item.Literal.Size()
			}
			if msg.UID == 0 {
				// Not known yet whose body this is: hold it (bounded by
				// the literal limit) until the UID comes.
				b, err := io.ReadAll(lit)
				if err != nil {
					return fmt.Errorf("read body: %w", err)
				}
				held = b
				continue
			}
			if err := call(lit, size); err != nil {
				return err
			}
		}
	}
	if held != nil && msg.UID != 0 {
		return call(bytes.NewReader(held), int64(len(held)))
	}
	return nil // not an answer to our FETCH (e.g. a flag update), or done
}

// bodyReader is Message.Body: it reads the literal with the watchdog
// armed (FetchBodies pauses it while fn runs) and keeps the first read
// error, which is the connection's.
type bodyReader struct {
	r      io.Reader
	wd     *watchdog
	resume func() // ends the pause in force
	err    error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.resume()
	n, err := b.r.Read(p)
	b.resume = b.wd.pause()
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Unkept returns the flags the selected folder cannot store, from the
// PERMANENTFLAGS of its SELECT reply (model.UnkeptFlags): a STORE or
// APPEND carrying one is refused by some servers (GNU Mailutils answers
// BAD to $Forwarded) and ignored by others.
func (c *Conn) Unkept() model.Flags {
	names, known := c.permanentFlags()
	return model.UnkeptFlags(names, known)
}

// permanentFlags returns the PERMANENTFLAGS of the selected folder's
// SELECT reply, and whether it had one. Read under the connection's
// lock: go-imap's own Mailbox() may still show the previous folder right
// after Select returns.
func (c *Conn) permanentFlags() ([]string, bool) {
	c.mu.Lock()
	perm := c.permanent
	c.mu.Unlock()
	names := make([]string, len(perm))
	for i, f := range perm {
		names[i] = string(f)
	}
	return names, perm != nil
}

// KeywordRule returns which keywords the selected folder can store, from
// the PERMANENTFLAGS of its SELECT reply (model.NewKeywordRule): without
// `\*` a new keyword cannot be created, and a STORE or APPEND carrying one
// is refused by some servers.
func (c *Conn) KeywordRule() model.KeywordRule {
	names, known := c.permanentFlags()
	return model.NewKeywordRule(names, known)
}

// FindByMessageID returns the UIDs, from minUID on, of the selected
// folder's messages whose Message-ID header holds id (UID SEARCH UID
// minUID:* HEADER Message-ID id), sorted. It finds an APPENDed message
// without UIDPLUS even when the server changed it on the way.
func (c *Conn) FindByMessageID(ctx context.Context, id string, minUID model.UID) (uids []model.UID, err error) {
	end, err := c.beginSelected(ctx, "search message-id", true)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if minUID == 0 {
		minUID = 1
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(minUID), 0)
	found, err := c.search(&imap.SearchCriteria{UID: []imap.UIDSet{set},
		Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}}})
	if err != nil {
		return nil, err
	}
	// n:* includes the highest UID even below n (RFC 3501 6.4.8).
	return slices.DeleteFunc(found, func(u model.UID) bool { return u < minUID }), nil
}
