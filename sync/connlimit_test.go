package sync

import (
	"strings"
	"testing"

	"github.com/mailsync/mailsync/internal/dovecottest"
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
	sum, err := fx.run(t, Options{})
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
