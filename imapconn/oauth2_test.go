package imapconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/dovecottest"
)

// introspection is a token introspection endpoint (RFC 7662) on loopback
// for Dovecot's oauth2 passdb: good is the one active token.
type introspection struct {
	URL  string
	user string
	mu   gosync.Mutex
	good string
	seen []string
}

func startIntrospection(t *testing.T, user, good string) *introspection {
	t.Helper()
	in := &introspection{user: user, good: good}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		tok := r.Form.Get("token")
		in.mu.Lock()
		in.seen = append(in.seen, tok)
		ok := tok == in.good
		in.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if ok {
			json.NewEncoder(w).Encode(map[string]any{"active": true, "username": in.user})
		} else {
			json.NewEncoder(w).Encode(map[string]any{"active": false})
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	in.URL = "http://" + l.Addr().String() + "/introspect"
	return in
}

// tokens returns an OAuth2Token func handing out toks in turn (the last
// one again when they run out) and counting calls.
func tokens(calls *atomic.Int32, toks ...string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n := int(calls.Add(1)) - 1
		return toks[min(n, len(toks)-1)], nil
	}
}

func TestOAuth2Dovecot(t *testing.T) {
	t.Parallel()
	const good = "ya29.good-access-token"
	for _, tc := range []struct{ name, mechs, want string }{
		{"both offered", "", "AUTHENTICATE OAUTHBEARER"},
		{"xoauth2 only", "xoauth2", "AUTHENTICATE XOAUTH2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := startIntrospection(t, "me@example.org", good)
			s := dovecottest.Start(t, &dovecottest.Options{OAuth2IntrospectionURL: in.URL, OAuth2Mechanisms: tc.mechs})
			ctx := context.Background()
			base := opts(s)
			base.Password = ""

			// A good token logs in, and the trace hides it.
			var calls atomic.Int32
			var trace syncBuffer
			o := base
			o.OAuth2Token = tokens(&calls, good)
			o.DebugWriter = &trace
			c, err := imapconn.Dial(ctx, o)
			if err != nil {
				t.Fatalf("good token: %v\nlog:\n%s", err, s.LogTail(20))
			}
			if _, _, err := c.ListFolders(ctx); err != nil {
				t.Error(err)
			}
			c.Close()
			if tr := trace.String(); strings.Contains(tr, good) || !strings.Contains(tr, tc.want) {
				t.Errorf("trace (want %q, no token):\n%s", tc.want, tr)
			}
			if calls.Load() != 1 {
				t.Errorf("token command ran %d times, want 1", calls.Load())
			}

			// An expired token is refused: the command runs once
			// more and the fresh token is used.
			calls.Store(0)
			o.OAuth2Token = tokens(&calls, "expired-token", good)
			o.DebugWriter = nil
			c, err = imapconn.Dial(ctx, o)
			if err != nil {
				t.Fatalf("expired then good: %v", err)
			}
			c.Close()
			if calls.Load() != 2 {
				t.Errorf("token command ran %d times, want 2", calls.Load())
			}

			// Always refused: two tries, then a clear ErrAuth.
			calls.Store(0)
			o.OAuth2Token = tokens(&calls, "bad-token-1", "bad-token-2")
			_, err = imapconn.Dial(ctx, o)
			if !errors.Is(err, imapconn.ErrAuth) || !strings.Contains(err.Error(), "oauth2_token_command twice") || strings.Contains(err.Error(), "bad-token") {
				t.Errorf("bad tokens: err = %v", err)
			}
			if calls.Load() != 2 {
				t.Errorf("token command ran %d times, want 2", calls.Load())
			}

			// A failing command is reported as such.
			o.OAuth2Token = func(context.Context) (string, error) { return "", errors.New("oama: no refresh token") }
			_, err = imapconn.Dial(ctx, o)
			if !errors.Is(err, imapconn.ErrAuth) || !strings.Contains(err.Error(), "oama: no refresh token") {
				t.Errorf("failing command: err = %v", err)
			}
		})
	}
}
