package imapconn_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
)

// TestAppendFromReader: AppendBatch streams a message given as a reader
// (the server stores exactly its bytes, in a batch with messages in
// memory); a reader that fails, or gives fewer or more bytes than its
// Size, fails the call at once with an error saying so, instead of
// leaving the server waiting for the rest of the literal.
func TestAppendFromReader(t *testing.T) {
	t.Parallel()
	s := dovecottest.Start(t, nil)
	ctx := context.Background()
	c := dial(t, opts(s))
	streamed := msg("streamed", strings.Repeat("a line of the streamed message\r\n", 5000))
	reqs := []imapconn.AppendReq{
		{Body: msg("in memory", "x\r\n")},
		{Reader: iotest.HalfReader(bytes.NewReader(streamed)), Size: int64(len(streamed))},
	}
	if err := c.AppendBatch(ctx, "INBOX", reqs, func(int, imapconn.AppendResult) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := s.Messages(t, "INBOX")
	if len(got) != 2 || !bytes.Equal(got[1].Body, streamed) {
		t.Fatalf("server holds %d messages, the streamed one intact: %v", len(got), len(got) == 2 && bytes.Equal(got[1].Body, streamed))
	}

	for _, tc := range []struct {
		name string
		req  imapconn.AppendReq
		want string
	}{
		{"short", imapconn.AppendReq{Reader: bytes.NewReader(streamed), Size: int64(len(streamed)) + 10}, "changed while it was being sent"},
		{"long", imapconn.AppendReq{Reader: bytes.NewReader(streamed), Size: int64(len(streamed)) - 10}, "changed while it was being sent"},
		{"failing", imapconn.AppendReq{Reader: iotest.ErrReader(errors.New("disk on fire")), Size: 100}, "read the message to upload: disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, opts(s))
			start := time.Now()
			err := within(t, 20*time.Second, func() error {
				return c.AppendBatch(ctx, "INBOX", []imapconn.AppendReq{tc.req}, func(int, imapconn.AppendResult) error { return nil })
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	if n := len(s.Messages(t, "INBOX")); n != 2 {
		t.Errorf("%d messages on the server after the failed uploads, want 2", n)
	}
}
