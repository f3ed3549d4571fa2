package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the whole demo without waiting: sample archive, serve,
// sync both ways, verify; then again, reusing what the first run made.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Dir: dir, Listen: "127.0.0.1:0", Out: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"wrote 13 messages in 6 folders", "13 downloaded", "1 uploaded, flags 1→server", "byte-identical", "ssl_force_tls=no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Run(context.Background(), Options{Dir: dir, Listen: "127.0.0.1:0", Out: &out}); err != nil {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "reusing") || !strings.Contains(out.String(), "0 downloaded, 0 uploaded") {
		t.Errorf("second run:\n%s", out.String())
	}
}
