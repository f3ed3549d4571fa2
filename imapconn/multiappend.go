package imapconn

import (
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/mailsync/mailsync/model"
)

// MULTIAPPEND (RFC 3502). A batch of uploads goes out as one APPEND
// command carrying every message, which the server stores atomically in
// one transaction: Dovecot commits and fsyncs once per command, so 50
// small messages cost one commit instead of 50 (five to eight times less
// server time per message, measured in bench/compare.sh's local delta).
// It is used when the server offers MULTIAPPEND and LITERAL+ (the whole
// batch is sent in one go, with no continuation to wait for) and every
// message can be read again (in memory, or a reader that can seek back
// to its start): a batch refused for one message's sake stored nothing,
// and is then sent again one APPEND per message, whose answers tell which
// message the server refuses.

// multiAppend sends items to the folder named sname (as the server
// spells it) in one MULTIAPPEND and, when the server stored them, calls
// done for each in order with the UID it was given (from the
// APPENDUID's uid-set, in the order the messages were sent: RFC 4315
// section 3; none when the server sent no set of as many UIDs). sent is
// false, with no error, when the server refused the batch for what a
// message holds (nothing was stored): the caller sends them one by one.
func (c *Conn) multiAppend(sname string, items []appendItem, done func(i int, res AppendResult) error) (sent bool, err error) {
	cmd := c.client.MultiAppend(sname)
	for i, it := range items {
		w := cmd.Message(it.size, &imap.AppendOptions{Time: it.date, Flags: it.flags})
		if it.reader == nil {
			_, werr := w.Write(it.body)
			cerr := w.Close()
			if werr != nil || cerr != nil {
				break // the command's answer tells why
			}
			continue
		}
		ok, lerr := c.sendLiteral(w, it.reader, it.size)
		if lerr != nil {
			cmd.Close()
			return false, fmt.Errorf("message %d of %d: %w", i+1, len(items), lerr)
		}
		if !ok {
			break
		}
	}
	cmd.Close()
	data, werr := cmd.Wait()
	if werr != nil {
		var ie *imap.Error
		if errors.As(werr, &ie) && refusesMessage(ie) {
			return false, nil
		}
		return false, fmt.Errorf("%d messages in one APPEND: %w", len(items), werr)
	}
	uids := appendedUIDs(data.UIDs, len(items))
	for i := range items {
		var res AppendResult
		if c.caps.UIDPlus && uids != nil && data.UIDValidity != 0 {
			res = AppendResult{UIDValidity: data.UIDValidity, UID: uids[i]}
		}
		resume := c.wd.pause()
		derr := done(i, res)
		resume()
		if derr != nil {
			return true, &cmdErr{derr}
		}
	}
	return true, nil
}

// appendedUIDs expands the uid-set of a MULTIAPPEND's APPENDUID into one
// UID per message, in ascending order: the order the server stored
// them in, which is the order they were sent. nil when the set does not
// hold exactly n UIDs.
func appendedUIDs(set imap.UIDSet, n int) []model.UID {
	var uids []model.UID
	for _, r := range set {
		if r.Start == 0 || r.Stop == 0 || r.Stop < r.Start || uint64(r.Stop-r.Start) >= uint64(n) {
			return nil
		}
		for u := r.Start; ; u++ {
			uids = append(uids, model.UID(u))
			if len(uids) > n {
				return nil
			}
			if u == r.Stop {
				break
			}
		}
	}
	if len(uids) != n {
		return nil
	}
	return uids
}

// rewindable reports whether every item can be sent again: held in
// memory, or read from a reader that can seek back to its start.
func rewindable(items []appendItem) bool {
	for _, it := range items {
		if it.reader == nil {
			continue
		}
		if _, ok := it.reader.(io.Seeker); !ok {
			return false
		}
	}
	return true
}

// rewind seeks every item's reader back to its start.
func rewind(items []appendItem) error {
	for i, it := range items {
		if it.reader == nil {
			continue
		}
		if _, err := it.reader.(io.Seeker).Seek(0, io.SeekStart); err != nil {
			return &connError{op: "read the message to upload", err: fmt.Errorf("message %d of %d: %w", i+1, len(items), err)}
		}
	}
	return nil
}
