package sync

import (
	"context"
	"time"

	"github.com/mailsync/mailsync/imapconn"
)

// Backoff between attempts after a transient failure (a connection
// reset, a timeout, a BYE: imapconn.IsRetryable): retryBase, doubled
// each attempt, at most retryCap. Variables for tests.
var (
	retryBase = time.Second
	retryCap  = 30 * time.Second
)

// retryDelay is the wait before attempt+1 (attempt counts from 0): 1 s,
// 2 s, 4 s, … up to retryCap.
func retryDelay(attempt int) time.Duration {
	d := retryBase
	for i := 0; i < attempt && d < retryCap; i++ {
		d *= 2
	}
	return min(d, retryCap)
}

// reconnectDelay is the wait before reconnecting after a connection that
// broke during attempt: none the first time (a one-off cut, such as a
// response the client cannot parse, needs no wait, and some servers, GNU
// Mailutils among them, give a folder a new UIDVALIDITY when it is opened
// in another second), then retryDelay's 1 s, 2 s, … for a server that
// keeps failing.
func reconnectDelay(attempt int) time.Duration {
	if attempt == 0 {
		return 0
	}
	return retryDelay(attempt - 1)
}

// dialRetrying opens the run's first connection, trying again up to
// retries times with backoff while the failure is transient (the server
// restarting, a network blip). A refused login is not retried.
func dialRetrying(ctx context.Context, dial func(context.Context) (conn, error), retries int) (conn, error) {
	for attempt := 0; ; attempt++ {
		c, err := dial(ctx)
		if err == nil || !imapconn.IsRetryable(err) || attempt >= retries || ctx.Err() != nil {
			return c, err
		}
		sleep(ctx, retryDelay(attempt))
	}
}
