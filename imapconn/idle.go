package imapconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/model"
)

// changed runs the Idle callback, if any. Called from go-imap's reader
// goroutine for every unsolicited EXISTS, EXPUNGE or FETCH.
func (c *Conn) changed() {
	if fn := c.onChange.Load(); fn != nil {
		(*fn)()
	}
}

// ErrIdleUnsupported is matched by Idle's error when the server offers
// neither IDLE nor IMAP4rev2.
var ErrIdleUnsupported = errors.New("server does not support IDLE")

// Idle examines folder (read-only, so that nothing is changed or marked
// \Recent-seen by watching) and waits in IDLE, calling changed from
// go-imap's reader goroutine whenever the server reports a new message
// (EXISTS), an expunge or a flag change (FETCH). changed must not block
// and must not call into c. The IDLE is ended and started again every
// restart (25 minutes when zero), under the 29-minute limit of RFC 2177.
//
// Idle returns only on failure: when ctx ends (ctx's error), when the
// connection breaks or the server ends it (BYE, a restart; retryable,
// see IsRetryable), or when the folder cannot be examined. The Conn is
// occupied for the whole call; use a Conn of its own for watching.
func (c *Conn) Idle(ctx context.Context, folder string, restart time.Duration, changed func()) (err error) {
	if restart <= 0 {
		restart = 25 * time.Minute
	}
	if !c.rawCap.Has(imap.CapIdle) && !c.rawCap.Has(imap.CapIMAP4rev2) {
		return fmt.Errorf("idle in %q at %s: %w", folder, c.addr, ErrIdleUnsupported)
	}
	end, err := c.begin(ctx, fmt.Sprintf("idle in %q", folder))
	if err != nil {
		return err
	}
	defer end(&err)
	sname, err := c.serverName(folder)
	if err != nil {
		return err
	}
	c.selected = ""
	if _, err := c.client.Select(sname, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return err
	}
	c.selected = sname
	c.onChange.Store(&changed)
	defer c.onChange.Store(nil)
	for {
		cmd, err := c.client.Idle()
		if err != nil {
			return err
		}
		// Waiting in IDLE, silence is normal: the watchdog only times
		// the start and the end of each IDLE.
		c.wd.disarm()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		timer := time.NewTimer(restart)
		select {
		case err := <-done:
			timer.Stop()
			if err == nil {
				err = errors.New("server ended IDLE")
			}
			return &connError{op: "idle", err: err, retryable: true}
		case <-ctx.Done():
			timer.Stop()
			// begin closed the transport: cmd.Wait returns.
			<-done
			return ctx.Err()
		case <-timer.C:
		}
		c.wd.arm(fmt.Sprintf("ending IDLE in %q", folder))
		if err := cmd.Close(); err != nil {
			return err
		}
		if err := <-done; err != nil {
			return err
		}
	}
}

// Status asks the server for folder's STATUS (UIDVALIDITY, UIDNEXT,
// MESSAGES, and HIGHESTMODSEQ when the server has CONDSTORE) without
// selecting it. It may be called while another folder is selected.
func (c *Conn) Status(ctx context.Context, folder string) (st model.FolderStatus, err error) {
	end, err := c.begin(ctx, fmt.Sprintf("status of %q", folder))
	if err != nil {
		return st, err
	}
	defer end(&err)
	sname, err := c.serverName(folder)
	if err != nil {
		return st, err
	}
	data, err := c.client.Status(sname, &imap.StatusOptions{
		NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: c.caps.CondStore,
	}).Wait()
	if err != nil {
		return st, err
	}
	st = model.FolderStatus{UIDValidity: data.UIDValidity, UIDNext: model.UID(data.UIDNext), HighestModSeq: data.HighestModSeq}
	if data.NumMessages != nil {
		st.Messages = *data.NumMessages
	}
	return st, nil
}
