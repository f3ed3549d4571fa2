package sync

import (
	"context"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
	"github.com/mailsync/mailsync/model"
)

// TestWorkerConnectionRefused (issue 8, case 13): a server that allows
// one connection per user refuses the workers' extra connections. The run
// goes on with the connection that works, syncs every folder, and says so
// once.
func TestWorkerConnectionRefused(t *testing.T) {
	requireDovecot(t, "mail_max_userip_connections")
	fx := newFixture(t, &dovecottest.Options{MaxConnections: 1})
	fx.acct.Connections = 3
	seed(t, fx)
	// The first connection syncs no folder before the workers have
	// tried theirs: a fast machine would otherwise sync every folder
	// and log out before they dial, and the server would take them.
	var mu gosync.Mutex
	dials := 0
	tried := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := run(ctx, fx.acct, Options{}, func(ctx context.Context) (conn, error) {
		c, err := imapconn.Dial(ctx, fx.acct.IMAP)
		mu.Lock()
		dials++
		if dials == fx.acct.Connections {
			close(tried)
		}
		first := dials == 1
		mu.Unlock()
		if err != nil {
			return nil, err
		}
		if !first {
			return c, nil
		}
		return gatedConn{c, tried}, nil
	})
	if err != nil {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	if sum.Downloaded != 12 {
		t.Fatalf("downloaded %d, want 12 (%+v)", sum.Downloaded, sum)
	}
	n := 0
	for _, w := range sum.Warnings {
		if strings.Contains(w, "connection") {
			n++
		}
	}
	t.Logf("warnings: %q", sum.Warnings)
	if n != 1 {
		t.Fatalf("want one warning about the refused connections, got %q", sum.Warnings)
	}
	fx.assertInSync(t)
}

// gatedConn is a real connection whose Selects wait until open is
// closed (or a few seconds have passed).
type gatedConn struct {
	*imapconn.Conn
	open chan struct{}
}

func (c gatedConn) Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error) {
	select {
	case <-c.open:
	case <-time.After(10 * time.Second):
	}
	return c.Conn.Select(ctx, name, readOnly)
}
