package imapconn

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/mailsync/mailsync/model"
)

// naming is how one server spells folder names (RFC 2342 NAMESPACE):
// the personal namespace's prefix and hierarchy delimiter, and the
// prefixes of other users' and shared namespaces. Courier, and Cyrus as
// Debian configures it, put every personal folder but INBOX under
// "INBOX." with delimiter "."; mailsync's names leave the prefix out
// (server "INBOX.Spam" is folder "Spam") and CREATE adds it back.
// Folders in other users' and shared namespaces are not the user's mail
// and are not listed.
type naming struct {
	loaded  bool
	prefix  string   // personal namespace prefix, "" on most servers
	delim   string   // personal hierarchy delimiter, "" for a flat namespace
	foreign []string // other users' and shared namespace prefixes (non-empty)
}

// loadNaming asks the server for its namespaces (NAMESPACE, when
// advertised) and its delimiter (LIST "" "" when NAMESPACE does not
// give one), once per connection. A server without NAMESPACE, or one
// that refuses the command, has no prefix. Called with c locked.
func (c *Conn) loadNaming() error {
	if c.names.loaded {
		return nil
	}
	var n naming
	haveDelim := false
	if c.rawCap.Has(imap.CapNamespace) {
		data, err := c.client.Namespace().Wait()
		var ie *imap.Error
		switch {
		case errors.As(err, &ie):
			// Refused: as if there were no NAMESPACE.
		case err != nil:
			return err
		default:
			if len(data.Personal) > 0 {
				p := data.Personal[0]
				n.prefix = p.Prefix
				if p.Delim != 0 {
					n.delim, haveDelim = string(p.Delim), true
				}
			}
			for _, list := range [][]imap.NamespaceDescriptor{data.Other, data.Shared} {
				for _, d := range list {
					if d.Prefix != "" {
						n.foreign = append(n.foreign, d.Prefix)
					}
				}
			}
		}
	}
	if !haveDelim {
		list, err := c.client.List("", "", nil).Collect()
		if err != nil {
			return err
		}
		for _, d := range list {
			if d.Delim != 0 {
				n.delim = string(d.Delim)
			}
		}
	}
	n.loaded = true
	c.names = n
	return nil
}

// errForeign marks a server folder of another user's or a shared
// namespace: left out of the listing without a warning.
var errForeign = errors.New("in another user's or a shared namespace")

// localName maps a listed server folder (name, delimiter) to mailsync's
// canonical name: the personal prefix is taken away and the delimiter
// becomes "/". It returns errForeign for folders of other namespaces and
// a reason for names mailsync cannot represent.
func (n *naming) localName(server string, delim rune) (string, error) {
	if strings.EqualFold(server, model.Inbox) {
		return model.Inbox, nil
	}
	for _, p := range n.foreign {
		if strings.HasPrefix(server, p) || server+string(delim) == p || server == p {
			return "", errForeign
		}
	}
	name := server
	if n.prefix != "" {
		if !strings.HasPrefix(server, n.prefix) {
			if server+string(delim) == n.prefix {
				return "", errForeign // the prefix's own level, e.g. a \Noselect "#mail"
			}
			return "", fmt.Errorf("outside the personal namespace %q", n.prefix)
		}
		name = server[len(n.prefix):]
		if name == "" {
			return "", errForeign
		}
		if strings.EqualFold(name, model.Inbox) {
			return "", fmt.Errorf("would be confused with INBOX once the namespace prefix %q is taken away", n.prefix)
		}
	}
	return canonicalName(name, delim)
}

// serverName maps a canonical folder name to the server's: INBOX as is,
// any other name under the personal namespace prefix with the server's
// delimiter. A level containing the server's delimiter cannot be
// represented (the server would split it into two levels). Called with c
// locked.
func (c *Conn) serverName(name string) (string, error) {
	clean, err := model.CleanFolderName(name)
	if err != nil {
		return "", &cmdErr{err}
	}
	if clean == model.Inbox {
		return clean, nil
	}
	if err := c.loadNaming(); err != nil {
		return "", err
	}
	n := &c.names
	parts := strings.Split(clean, "/")
	if n.delim == "" && len(parts) > 1 {
		return "", &cmdErr{fmt.Errorf("folder %q: the server has a flat namespace (no hierarchy delimiter)", name)}
	}
	if n.delim != "" && n.delim != "/" {
		for _, p := range parts {
			if strings.Contains(p, n.delim) {
				return "", &cmdErr{fmt.Errorf("folder %q: level %q contains the server's hierarchy delimiter %q", name, p, n.delim)}
			}
		}
	}
	return n.prefix + strings.Join(parts, n.delim), nil
}

// Delimiter returns the server's hierarchy delimiter ("" for a flat
// namespace), as learned by ListFolders or the first folder command;
// "/" before either ran.
func (c *Conn) Delimiter() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.names.loaded {
		return "/"
	}
	return c.names.delim
}
