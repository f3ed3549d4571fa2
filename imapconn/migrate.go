package imapconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/mailsync/mailsync/model"
)

// This file holds what a server-to-server copy (package migrate) needs
// beyond the sync engine's view: flags and keywords as the server spells
// them, INTERNALDATE, PERMANENTFLAGS and every LIST attribute.

// FolderAttrs is a folder of ListFolderAttrs: its canonical name and
// every attribute the server gave it in LIST (e.g. `\Sent`, `\All`,
// `\Important`, `\Noselect`), as the server spells them.
type FolderAttrs struct {
	Name  string
	Attrs []string
}

// ListFolderAttrs lists every folder with all its LIST attributes
// (with RETURN (SPECIAL-USE) when the server allows it), sorted by name.
// Names mailsync cannot represent are not in folders but in skipped, as
// "name: reason" strings for the user (as ListFolders).
func (c *Conn) ListFolderAttrs(ctx context.Context) (folders []FolderAttrs, skipped []string, err error) {
	end, err := c.begin(ctx, "list folders")
	if err != nil {
		return nil, nil, err
	}
	defer end(&err)
	var opts *imap.ListOptions
	if c.caps.SpecialUse && c.rawCap.Has(imap.CapListExtended) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	if err := c.loadNaming(); err != nil {
		return nil, nil, err
	}
	list, err := c.client.List("", "*", opts).Collect()
	if err != nil {
		return nil, nil, err
	}
	for _, name := range c.guard.takeDropped() {
		skipped = append(skipped, fmt.Sprintf("%q: not valid modified UTF-7 (RFC 3501 5.1.3), which the IMAP library cannot handle", name))
	}
	for _, d := range list {
		name, err := c.names.localName(d.Mailbox, d.Delim)
		if errors.Is(err, errForeign) {
			continue
		}
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%q: %v", d.Mailbox, err))
			continue
		}
		f := FolderAttrs{Name: name}
		for _, a := range d.Attrs {
			f.Attrs = append(f.Attrs, string(a))
		}
		folders = append(folders, f)
	}
	slices.SortFunc(folders, func(a, b FolderAttrs) int { return strings.Compare(a.Name, b.Name) })
	return folders, skipped, nil
}

// SelectPermanentFlags is Select that also returns the PERMANENTFLAGS
// of the SELECT answer (`\*` among them when the server keeps new
// keywords).
func (c *Conn) SelectPermanentFlags(ctx context.Context, name string, readOnly bool) (st model.FolderStatus, perm []string, err error) {
	end, err := c.begin(ctx, fmt.Sprintf("select %q", name))
	if err != nil {
		return st, nil, err
	}
	defer end(&err)
	sname, err := c.serverName(name)
	if err != nil {
		return st, nil, err
	}
	c.selected = ""
	data, err := c.client.Select(sname, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
	if err != nil {
		return st, nil, err
	}
	c.selected = sname
	st = model.FolderStatus{UIDValidity: data.UIDValidity, UIDNext: model.UID(data.UIDNext), Messages: data.NumMessages}
	for _, f := range data.PermanentFlags {
		perm = append(perm, string(f))
	}
	return st, perm, nil
}

// RawMsg is one message of ListRaw: its flags and keywords as the
// server spells them (without the session flag \Recent), INTERNALDATE,
// RFC822.SIZE and model.Fingerprint.
type RawMsg struct {
	UID          model.UID
	Flags        []string
	InternalDate time.Time
	Size         int64
	Fingerprint  string
}

// ListRaw lists every message of the selected folder with UID FLAGS
// INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER], sorted by UID, in one
// FETCH. Nothing is changed (\Seen is not set).
func (c *Conn) ListRaw(ctx context.Context) (msgs []RawMsg, err error) {
	end, err := c.beginSelected(ctx, "list messages", true)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if mb := c.client.Mailbox(); mb == nil || mb.NumMessages == 0 {
		return nil, nil
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	var all imap.UIDSet
	all.AddRange(1, 0)
	cmd := c.client.Fetch(all, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{hdr},
	})
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
		if buf.UID == 0 || buf.FindBodySection(hdr) == nil {
			continue
		}
		r := RawMsg{UID: model.UID(buf.UID), InternalDate: buf.InternalDate, Size: buf.RFC822Size,
			Fingerprint: model.Fingerprint(buf.RFC822Size, buf.FindBodySection(hdr))}
		for _, f := range buf.Flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				r.Flags = append(r.Flags, string(f))
			}
		}
		msgs = append(msgs, r)
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	slices.SortFunc(msgs, func(a, b RawMsg) int { return int(a.UID) - int(b.UID) })
	return msgs, nil
}

// RawAppend is one message for AppendRawBatch: flags and keywords as
// the server should store them, Date as INTERNALDATE (the server's clock
// when zero), Body with CRLF line endings, sent as is; or, when Reader
// is set, Size bytes read from Reader while the message is sent.
type RawAppend struct {
	Body   []byte
	Reader io.Reader
	Size   int64
	Flags  []string
	Date   time.Time
}

// AppendRaw uploads one message to folder (canonical name). On a
// connection error the message may or may not have been stored.
func (c *Conn) AppendRaw(ctx context.Context, folder string, body []byte, flags []string, date time.Time) error {
	return c.AppendRawBatch(ctx, folder, []RawAppend{{Body: body, Flags: flags, Date: date}}, func(int) error { return nil })
}

// AppendRawBatch is AppendBatch for RawAppend: reqs go to folder in
// order, at most 8 unanswered, and done(i) is called in order for each
// message the server confirmed stored. After a refusal
// (*AppendRefusedError for one message's) nothing more is sent; the ones
// in flight are waited for. After a connection error, messages sent but
// not confirmed may or may not be stored.
func (c *Conn) AppendRawBatch(ctx context.Context, folder string, reqs []RawAppend, done func(i int) error) error {
	return c.appendBatch(ctx, folder, len(reqs), func(i int) appendItem {
		r := reqs[i]
		it := appendItem{date: r.Date, body: r.Body, reader: r.Reader, size: int64(len(r.Body))}
		if r.Reader != nil {
			it.size = r.Size
		}
		for _, f := range r.Flags {
			it.flags = append(it.flags, imap.Flag(f))
		}
		return it
	}, func(i int, _ AppendResult) error { return done(i) })
}

// AddFlagsRaw adds flags and keywords, spelled as the server should
// store them, to the given messages of the selected folder (UID STORE
// +FLAGS.SILENT, in chunks). Empty uids or flags send nothing.
func (c *Conn) AddFlagsRaw(ctx context.Context, uids []model.UID, flags []string) (err error) {
	if len(uids) == 0 || len(flags) == 0 {
		return nil
	}
	end, err := c.beginSelected(ctx, fmt.Sprintf("add flags %s", strings.Join(flags, " ")), false)
	if err != nil {
		return err
	}
	defer end(&err)
	uids = slices.Clone(uids)
	slices.Sort(uids)
	sf := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true}
	for _, f := range flags {
		sf.Flags = append(sf.Flags, imap.Flag(f))
	}
	for _, ch := range chunks(uids, smallChunk) {
		if err := c.client.Store(uidSet(ch), sf, nil).Close(); err != nil {
			return err
		}
	}
	return nil
}
