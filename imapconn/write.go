package imapconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/mailsync/mailsync/model"
)

// AppendReq is one message to upload (model.AppendReq).
type AppendReq = model.AppendReq

// AppendResult is what the server told about a stored message
// (model.AppendResult).
type AppendResult = model.AppendResult

// appendWindow is how many APPENDs AppendBatch keeps unanswered.
const appendWindow = 8

// AppendRefusedError is AppendBatch's error when the server refused one
// message for what it is (a tagged NO or BAD without a response code
// that concerns every message, like TRYCREATE or OVERQUOTA): that
// message (reqs[Index]) was not stored. The messages after it were not sent, or were sent and refused
// too; those the server stored were confirmed through done. Whether the
// connection is still usable is IsRetryable's answer, as for any error.
type AppendRefusedError struct {
	Index, Total int
	Err          error // the server's answer (*imap.Error)
}

func (e *AppendRefusedError) Error() string {
	return fmt.Sprintf("message %d of %d refused: %v", e.Index+1, e.Total, e.Err)
}

func (e *AppendRefusedError) Unwrap() error { return e.Err }

// refusesMessage tells a refusal of one message (its content: Dovecot's
// "Can't save a zero byte message", a size limit, a parse error) from one
// that every message would get (no such folder, no permission, over
// quota, server trouble), which is returned as an ordinary error.
func refusesMessage(ie *imap.Error) bool {
	if ie.Type != imap.StatusResponseTypeNo && ie.Type != imap.StatusResponseTypeBad {
		return false
	}
	switch ie.Code {
	case imap.ResponseCodeTryCreate, imap.ResponseCodeNonExistent, imap.ResponseCodeNoPerm,
		imap.ResponseCodeOverQuota, imap.ResponseCodeUnavailable, imap.ResponseCodeInUse,
		imap.ResponseCodeServerBug, imap.ResponseCodeContactAdmin, imap.ResponseCodeAuthorizationFailed:
		return false
	}
	return true
}

// Append uploads one message to folder (canonical name). It does not
// need the folder selected. On a connection error the message may or may
// not have been stored.
func (c *Conn) Append(ctx context.Context, folder string, r AppendReq) (res AppendResult, err error) {
	err = c.AppendBatch(ctx, folder, []AppendReq{r}, func(_ int, ar AppendResult) error {
		res = ar
		return nil
	})
	return res, err
}

// AppendBatch uploads reqs to folder in order, sending each APPEND without
// waiting for the previous one's answer (at most 8 unanswered). done is
// called in order, as the answers arrive, for every message the server
// confirmed stored. When an APPEND is refused, the ones already sent are
// still waited for and confirmed through done, nothing more is sent, and
// the refusal is returned. When done returns an error, done is not called
// again, the APPENDs in flight are waited for, and that error is returned
// (wrapped). After a connection error, messages sent but not confirmed may
// or may not be stored.
func (c *Conn) AppendBatch(ctx context.Context, folder string, reqs []AppendReq, done func(i int, res AppendResult) error) (err error) {
	return c.appendBatch(ctx, folder, len(reqs), func(i int) appendItem {
		r := reqs[i]
		it := appendItem{date: r.Date, body: r.Body, reader: r.Reader, size: r.Len()}
		for _, f := range r.Flags.IMAP() {
			it.flags = append(it.flags, imap.Flag(f))
		}
		for _, k := range r.Keywords {
			it.flags = append(it.flags, imap.Flag(k))
		}
		return it
	}, done)
}

// appendItem is one message for appendBatch: flags as sent, INTERNALDATE
// (none when zero), and the message (CRLF): body, or size bytes read
// from reader when reader is set.
type appendItem struct {
	flags  []imap.Flag
	date   time.Time
	body   []byte
	reader io.Reader
	size   int64
}

// appendBatch is AppendBatch for n messages, item(i) giving each as it
// is sent: the pipelined APPEND of sync's uploads and migrate's copies.
func (c *Conn) appendBatch(ctx context.Context, folder string, n int, item func(i int) appendItem, done func(i int, res AppendResult) error) (err error) {
	end, err := c.begin(ctx, fmt.Sprintf("append to %q", folder))
	if err != nil {
		return err
	}
	defer end(&err)
	if n == 0 {
		return nil
	}
	sname, err := c.serverName(folder)
	if err != nil {
		return err
	}
	if c.caps.MultiAppend && c.caps.LiteralPlus && n > 1 {
		items := make([]appendItem, n)
		for i := range items {
			items[i] = item(i)
		}
		if rewindable(items) {
			sent, err := c.multiAppend(sname, items, done)
			if sent || err != nil {
				return err
			}
			// Refused as a whole for one message's sake (nothing was
			// stored: RFC 3502 makes it atomic): the messages one by
			// one tell which.
			if err := rewind(items); err != nil {
				return err
			}
		}
		item = func(i int) appendItem { return items[i] }
	}
	return c.appendSingles(sname, n, item, done)
}

// appendSingles is appendBatch with one APPEND per message, pipelined.
func (c *Conn) appendSingles(sname string, n int, item func(i int) appendItem, done func(i int, res AppendResult) error) error {
	type pending struct {
		i   int
		cmd *imapclient.AppendCommand
	}
	var (
		queue    []pending
		firstErr error
		doneErr  bool
	)
	record := func(e error) {
		if firstErr == nil {
			firstErr = e
		}
	}
	// wait answers the oldest pending APPEND.
	wait := func() {
		p := queue[0]
		queue = queue[1:]
		data, werr := p.cmd.Wait()
		if werr != nil {
			var ie *imap.Error
			if errors.As(werr, &ie) && refusesMessage(ie) {
				record(&AppendRefusedError{Index: p.i, Total: n, Err: werr})
			} else {
				record(fmt.Errorf("message %d of %d: %w", p.i+1, n, werr))
			}
			return
		}
		if doneErr {
			return
		}
		var res AppendResult
		if c.caps.UIDPlus && data != nil && data.UIDValidity != 0 {
			res = AppendResult{UIDValidity: data.UIDValidity, UID: model.UID(data.UID)}
		}
		resume := c.wd.pause()
		derr := done(p.i, res)
		resume()
		if derr != nil {
			doneErr = true
			record(&cmdErr{derr})
		}
	}
	for i := 0; i < n; i++ {
		if firstErr != nil {
			break
		}
		it := item(i)
		cmd := c.client.Append(sname, it.size, &imap.AppendOptions{Time: it.date, Flags: it.flags})
		queue = append(queue, pending{i, cmd})
		var sent bool
		if it.reader == nil {
			_, werr := cmd.Write(it.body)
			cerr := cmd.Close()
			sent = werr == nil && cerr == nil
		} else {
			var err error
			if sent, err = c.sendLiteral(cmd, it.reader, it.size); err != nil {
				record(fmt.Errorf("message %d of %d: %w", i+1, n, err))
			}
		}
		if !sent {
			// The server refused before the literal (e.g. TRYCREATE)
			// or the connection broke: the command's answer tells which.
			break
		}
		for len(queue) >= appendWindow {
			wait()
		}
	}
	for len(queue) > 0 {
		wait()
	}
	return firstErr
}

// sendLiteral streams an APPEND's message from r, which must give size
// bytes, and closes the literal; it reports whether it did. When r
// fails or gives another size, the literal cannot be completed: the
// connection is closed (the server drops the half-sent message) and the
// error says why. A failure to write is left to the command's answer,
// as for a message in memory.
func (c *Conn) sendLiteral(cmd io.WriteCloser, r io.Reader, size int64) (bool, error) {
	src := &firstErrReader{r: r}
	// CopyN: a reader giving more than size bytes is caught below, not
	// half-written.
	_, werr := io.CopyN(cmd, src, size)
	switch {
	case src.err != nil && src.err != io.EOF:
		c.raw.Close()
		cmd.Close() // frees go-imap's encoder
		return false, &connError{op: "read the message to upload", err: src.err}
	case werr == io.EOF || (werr == nil && src.more()):
		c.raw.Close()
		cmd.Close()
		return false, &connError{op: "upload", err: fmt.Errorf("the message changed while it was being sent (%d bytes expected)", size)}
	}
	cerr := cmd.Close()
	return werr == nil && cerr == nil, nil
}

// firstErrReader remembers its reader's first error.
type firstErrReader struct {
	r   io.Reader
	err error
}

func (f *firstErrReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

// more reports whether the reader has bytes left.
func (f *firstErrReader) more() bool {
	var b [1]byte
	for f.err == nil {
		if n, _ := f.Read(b[:]); n > 0 {
			return true
		}
	}
	return false
}

// StoreFlags adds (add) or removes flags on the given messages of the
// selected folder (UID STORE +FLAGS.SILENT / -FLAGS.SILENT). Empty uids or
// flags send nothing. UIDs the server no longer has are ignored by it.
func (c *Conn) StoreFlags(ctx context.Context, uids []model.UID, add bool, flags model.Flags) (err error) {
	if len(uids) == 0 || flags == 0 {
		return nil
	}
	op := "remove"
	if add {
		op = "add"
	}
	end, err := c.beginSelected(ctx, fmt.Sprintf("%s flags %s", op, flags), false)
	if err != nil {
		return err
	}
	defer end(&err)
	return c.store(uids, add, flags)
}

// StoreKeywords adds (add) or removes keywords on the given messages of
// the selected folder, as StoreFlags does flags. The caller leaves out
// the keywords the folder cannot store (KeywordRule).
func (c *Conn) StoreKeywords(ctx context.Context, uids []model.UID, add bool, keywords model.Keywords) (err error) {
	if len(uids) == 0 || len(keywords) == 0 {
		return nil
	}
	op := "remove"
	if add {
		op = "add"
	}
	end, err := c.beginSelected(ctx, fmt.Sprintf("%s keywords %s", op, keywords), false)
	if err != nil {
		return err
	}
	defer end(&err)
	return c.storeNames(uids, add, keywords)
}

// store runs UID STORE in chunks. Called with c locked.
func (c *Conn) store(uids []model.UID, add bool, flags model.Flags) error {
	return c.storeNames(uids, add, flags.IMAP())
}

// storeNames runs UID STORE of flag names in chunks. Called with c locked.
func (c *Conn) storeNames(uids []model.UID, add bool, names []string) error {
	sf := &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true}
	if add {
		sf.Op = imap.StoreFlagsAdd
	}
	for _, f := range names {
		sf.Flags = append(sf.Flags, imap.Flag(f))
	}
	for _, ch := range chunks(uids, smallChunk) {
		if err := c.client.Store(uidSet(ch), sf, nil).Close(); err != nil {
			return err
		}
	}
	return nil
}

// Expunge removes exactly the given messages of the selected folder: it
// marks them \Deleted, then with UIDPLUS expunges just them (UID
// EXPUNGE). Without UIDPLUS it runs a plain EXPUNGE only when no other
// message of the folder is \Deleted (UID SEARCH DELETED); otherwise it
// leaves them marked and returns an error matching ErrExpungeDeferred. (A
// client marking a message \Deleted between that SEARCH and the EXPUNGE
// cannot be guarded against without UIDPLUS.)
func (c *Conn) Expunge(ctx context.Context, uids []model.UID) (err error) {
	if len(uids) == 0 {
		return nil
	}
	end, err := c.beginSelected(ctx, fmt.Sprintf("expunge %d messages", len(uids)), false)
	if err != nil {
		return err
	}
	defer end(&err)
	if err := c.store(uids, true, model.FlagTrashed); err != nil {
		return err
	}
	if c.caps.UIDPlus {
		for _, ch := range chunks(uids, smallChunk) {
			if err := c.client.UIDExpunge(uidSet(ch)).Close(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.refresh(); err != nil {
		return err
	}
	deleted, err := c.search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}})
	if err != nil {
		return err
	}
	want := slices.Clone(uids)
	slices.Sort(want)
	var others int
	for _, u := range deleted {
		if _, found := slices.BinarySearch(want, u); !found {
			others++
		}
	}
	if others > 0 {
		return &cmdErr{fmt.Errorf("%w: the server has no UIDPLUS and %d other message(s) in %q are marked \\Deleted, which a plain EXPUNGE would remove too; ours stay marked \\Deleted",
			ErrExpungeDeferred, others, c.selected)}
	}
	return c.closeAndReselect()
}

// closeAndReselect expunges the selected folder's \Deleted messages with
// CLOSE and selects the folder again (read-write, with CONDSTORE when
// the server has it). A plain EXPUNGE would do the same, but its answer
// is one untagged EXPUNGE per message, and GNU Mailutils imap4d sends
// "* n EXPUNGED" instead, which go-imap's client takes for a broken
// connection (the expunge done, the run cut in the middle); CLOSE
// answers with nothing untagged on every server. imap4d may also give
// the folder a new UIDVALIDITY on that expunge: the error then matches
// ErrValidityChangedByExpunge (the messages are expunged) and is
// retryable, so that the folder is synced again from its start.
func (c *Conn) closeAndReselect() error {
	sname := c.selected
	if err := c.client.UnselectAndExpunge().Wait(); err != nil {
		return err
	}
	c.selected = ""
	data, err := c.client.Select(sname, &imap.SelectOptions{CondStore: c.caps.CondStore}).Wait()
	if err != nil {
		return err
	}
	c.selected = sname
	c.permanent = data.PermanentFlags
	if c.validity != 0 && data.UIDValidity != c.validity {
		old := c.validity
		c.validity = data.UIDValidity
		return &connError{op: fmt.Sprintf("select %q again after expunge", sname),
			err: fmt.Errorf("%w: from %d to %d", ErrValidityChangedByExpunge, old, data.UIDValidity), retryable: true}
	}
	return nil
}
