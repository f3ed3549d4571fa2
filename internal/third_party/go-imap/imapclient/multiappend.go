package imapclient

// mailsync patch 13: MULTIAPPEND (RFC 3502), which beta.8's client did
// not have. One APPEND command carries several messages, which the
// server stores atomically (all or none) in one transaction: Dovecot
// commits (and fsyncs) once per command, so many small uploads cost one
// commit instead of one each.

import (
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
)

// MultiAppendData is the answer to a MULTIAPPEND: with UIDPLUS (RFC 4315
// section 3), the UIDs assigned to the messages.
type MultiAppendData struct {
	UIDValidity uint32
	UIDs        imap.UIDSet
}

// MultiAppendCommand is an APPEND command of several messages (RFC 3502).
//
// For each message the caller calls Message, writes the message
// contents to the writer it returns and closes that writer; then it
// calls Close, which ends the command, and Wait.
type MultiAppendCommand struct {
	commandBase
	enc  *commandEncoder
	data MultiAppendData
}

// MultiAppend starts an APPEND command to mailbox that will carry
// several messages. The server must advertise MULTIAPPEND; without
// LITERAL+ each message waits for the server's continuation.
func (c *Client) MultiAppend(mailbox string) *MultiAppendCommand {
	cmd := &MultiAppendCommand{}
	cmd.enc = c.beginCommand("APPEND", cmd)
	cmd.enc.SP().Mailbox(mailbox)
	return cmd
}

// Message starts the next message of size bytes; the caller writes it to
// the returned writer and closes the writer.
func (cmd *MultiAppendCommand) Message(size int64, options *imap.AppendOptions) io.WriteCloser {
	cmd.enc.SP()
	if options != nil && len(options.Flags) > 0 {
		cmd.enc.List(len(options.Flags), func(i int) {
			cmd.enc.Flag(options.Flags[i])
		}).SP()
	}
	if options != nil && !options.Time.IsZero() {
		cmd.enc.String(options.Time.Format(internal.DateTimeLayout)).SP()
	}
	return cmd.enc.Literal(size)
}

// Close ends the command (after the last message).
func (cmd *MultiAppendCommand) Close() error {
	if cmd.enc != nil {
		cmd.enc.end()
		cmd.enc = nil
	}
	return nil
}

// Wait waits for the command's answer.
func (cmd *MultiAppendCommand) Wait() (*MultiAppendData, error) {
	return &cmd.data, cmd.wait()
}

// singleUID returns the UID of a set of one.
func singleUID(uids imap.UIDSet) (imap.UID, bool) {
	if len(uids) != 1 || uids[0].Start != uids[0].Stop || uids[0].Start == 0 {
		return 0, false
	}
	return uids[0].Start, true
}
