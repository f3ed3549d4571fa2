package imapconn

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/mailsync/mailsync/model"
)

// Statuses asks the server for the status of the given folders (canonical
// names) without selecting them: UIDVALIDITY, UIDNEXT, MESSAGES and, with
// CONDSTORE, HIGHESTMODSEQ (0 without CONDSTORE or for a NOMODSEQ
// folder). The STATUS commands are pipelined: the whole call costs one
// round trip however many folders are asked. A folder the server refuses
// to tell about (or whose name cannot be sent) is left out of the map;
// the error is for a broken connection only. Unkept is never set (STATUS
// does not tell PERMANENTFLAGS).
//
// The status of the selected folder is not asked for (RFC 3501 6.3.10
// advises against it): callers use Statuses before selecting.
//
// each, when not nil, is called with every status put in the map, as
// its answer arrives (the server answers one after the other): a caller
// can act on the first folders' while the server works on the others'.
func (c *Conn) Statuses(ctx context.Context, names []string, each func(name string, st model.FolderStatus)) (out map[string]model.FolderStatus, err error) {
	end, err := c.begin(ctx, "folder status")
	if err != nil {
		return nil, err
	}
	defer end(&err)
	opts := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: c.caps.CondStore}
	type pending struct {
		name string
		cmd  *imapclient.StatusCommand
	}
	cmds := make([]pending, 0, len(names))
	for _, name := range names {
		sname, err := c.serverName(name)
		if err != nil || sname == c.selected {
			continue
		}
		cmds = append(cmds, pending{name, c.client.Status(sname, opts)})
	}
	out = make(map[string]model.FolderStatus, len(cmds))
	var connErr error
	for _, p := range cmds {
		data, err := p.cmd.Wait()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type != imap.StatusResponseTypeBye {
			continue // refused for this folder: it is synced in full
		}
		if err != nil {
			if connErr == nil {
				connErr = err
			}
			continue
		}
		if data.NumMessages == nil || data.UIDValidity == 0 {
			continue // an incomplete answer proves nothing
		}
		st := model.FolderStatus{UIDValidity: data.UIDValidity, UIDNext: model.UID(data.UIDNext), Messages: *data.NumMessages}
		if c.caps.CondStore {
			st.HighestModSeq = data.HighestModSeq
		}
		out[p.name] = st
		if each != nil {
			each(p.name, st)
		}
	}
	if connErr != nil {
		return nil, connErr
	}
	return out, nil
}
