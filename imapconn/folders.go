package imapconn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/mailsync/mailsync/model"
)

// Folder is one folder of the server (model.RemoteFolder).
type Folder = model.RemoteFolder

var specialUses = []imap.MailboxAttr{
	imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts,
	imap.MailboxAttrFlagged, imap.MailboxAttrJunk, imap.MailboxAttrSent,
	imap.MailboxAttrTrash,
}

// ListFolders lists every folder of the user (LIST "" "*"), sorted by
// name, named without the personal namespace prefix (see naming).
// Folders of other users' and shared namespaces are left out. Folders
// whose names mailsync cannot represent (a level containing "/" when the
// server's delimiter is not "/", invalid names, names outside the
// personal namespace) are not in folders but in skipped, as
// "name: reason" strings for the user.
func (c *Conn) ListFolders(ctx context.Context) (folders []Folder, skipped []string, err error) {
	all, skipped, err := c.ListFolderAttrs(ctx)
	if err != nil {
		return nil, nil, err
	}
	folders = make([]Folder, 0, len(all))
	for _, fa := range all {
		f := Folder{Name: fa.Name}
		for _, a := range fa.Attrs {
			if strings.EqualFold(a, string(imap.MailboxAttrNoSelect)) ||
				strings.EqualFold(a, string(imap.MailboxAttrNonExistent)) {
				f.NoSelect = true
			}
			for _, su := range specialUses {
				if f.SpecialUse == "" && strings.EqualFold(a, string(su)) {
					f.SpecialUse = string(su)
				}
			}
		}
		folders = append(folders, f)
	}
	return folders, skipped, nil
}

// canonicalName maps a server name with delimiter delim to mailsync's
// form.
func canonicalName(server string, delim rune) (string, error) {
	name := server
	if delim != 0 && delim != '/' {
		parts := strings.Split(server, string(delim))
		for _, p := range parts {
			if strings.Contains(p, "/") {
				return "", fmt.Errorf("level %q contains \"/\", which mailsync uses as its own separator (the server's is %q)", p, string(delim))
			}
		}
		name = strings.Join(parts, "/")
	}
	return model.CleanFolderName(name)
}

// CreateFolder creates folder name (canonical form) and, on servers that
// need it, its parents. A folder that already exists is not an error.
func (c *Conn) CreateFolder(ctx context.Context, name string) (err error) {
	end, err := c.begin(ctx, fmt.Sprintf("create folder %q", name))
	if err != nil {
		return err
	}
	defer end(&err)
	sname, err := c.serverName(name)
	if err != nil {
		return err
	}
	err = c.client.Create(sname, nil).Wait()
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return err // nil or a connection error
	}
	if ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	// Servers without ALREADYEXISTS: look whether it is there.
	list, lerr := c.client.List("", sname, nil).Collect()
	if lerr != nil {
		return lerr
	}
	for _, d := range list {
		if d.Mailbox == sname || (strings.EqualFold(sname, model.Inbox) && strings.EqualFold(d.Mailbox, model.Inbox)) {
			return nil
		}
	}
	return err
}

// Select selects folder name (EXAMINE when readOnly), with CONDSTORE when
// the server has it so that HighestModSeq is set; HighestModSeq is 0
// without CONDSTORE or when the folder has NOMODSEQ. The status is a
// snapshot at selection time.
func (c *Conn) Select(ctx context.Context, name string, readOnly bool) (st model.FolderStatus, err error) {
	end, err := c.begin(ctx, fmt.Sprintf("select %q", name))
	if err != nil {
		return st, err
	}
	defer end(&err)
	sname, err := c.serverName(name)
	if err != nil {
		return st, err
	}
	c.selected = ""
	data, err := c.client.Select(sname, &imap.SelectOptions{ReadOnly: readOnly, CondStore: c.caps.CondStore}).Wait()
	if err != nil {
		return st, err
	}
	c.selected = sname
	c.fresh, c.selCount = true, data.NumMessages
	c.permanent = data.PermanentFlags
	c.validity = data.UIDValidity
	st = model.FolderStatus{
		UIDValidity: data.UIDValidity,
		UIDNext:     model.UID(data.UIDNext),
		Messages:    data.NumMessages,
	}
	if c.caps.CondStore {
		st.HighestModSeq = data.HighestModSeq
	}
	return st, nil
}

// needSelected fails unless a folder is selected. Called with c locked.
func (c *Conn) needSelected() error {
	if c.selected == "" {
		return &cmdErr{errors.New("no folder selected")}
	}
	return nil
}
