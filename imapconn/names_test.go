package imapconn

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalName(t *testing.T) {
	for _, tc := range []struct {
		server string
		delim  rune
		want   string // "" for an error
	}{
		{"INBOX", '/', "INBOX"},
		{"inbox", '.', "INBOX"},
		{"INBOX.Sub", '.', "INBOX/Sub"},
		// Only INBOX itself is case-insensitive (RFC 3501 5.1), not a
		// level under another spelling of it (issue 8 case 7).
		{"Inbox/sub", '/', "Inbox/sub"},
		{"inbox.x", '.', "inbox/x"},
		{"Archiv/Größe", '/', "Archiv/Größe"},
		{"Archiv.Größe", '.', "Archiv/Größe"},
		{"we/ird", '.', ""},
		{"a..b", '.', ""},
		{"flat", 0, "flat"},
	} {
		got, err := canonicalName(tc.server, tc.delim)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q %q: got %q, want an error", tc.server, tc.delim, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q %q: got %q %v, want %q", tc.server, tc.delim, got, err, tc.want)
		}
	}
}

func TestTraceRedaction(t *testing.T) {
	var b strings.Builder
	tr := &tracer{w: &b}
	// Split writes, a literal password, and an AUTHENTICATE exchange.
	tr.write(dirServer, []byte("* OK ready\r\n"))
	tr.write(dirClient, []byte("T1 LOGIN me {6}"))
	tr.write(dirClient, []byte("\r\n"))
	tr.write(dirServer, []byte("+ OK\r\n"))
	tr.write(dirClient, []byte("hun"))
	tr.write(dirClient, []byte("ter2\r\n"))
	tr.write(dirServer, []byte("T1 NO [AUTHENTICATIONFAILED] no\r\n"))
	tr.write(dirClient, []byte("T2 AUTHENTICATE PLAIN\r\n"))
	tr.write(dirServer, []byte("+ \r\n"))
	tr.write(dirClient, []byte("AG1lAGh1bnRlcjI=\r\n"))
	tr.write(dirServer, []byte("T2 OK logged in\r\n"))
	tr.write(dirClient, []byte("T3 NOOP\r\n"))
	tr.flush()
	out := b.String()
	for _, secret := range []string{"hunter2", "hun", "AG1lAGh1bnRlcjI="} {
		if strings.Contains(out, secret) {
			t.Errorf("trace leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "C: T3 NOOP\n") || !strings.Contains(out, "S: T2 OK logged in\n") {
		t.Errorf("trace lost normal lines:\n%s", out)
	}
}

// TestNamingLocalName: the personal namespace prefix is taken away,
// other users' and shared namespaces are left out (issue 8 case 9).
func TestNamingLocalName(t *testing.T) {
	courier := &naming{loaded: true, prefix: "INBOX.", delim: ".", foreign: []string{"#shared.", "user."}}
	for _, tc := range []struct {
		n      *naming
		server string
		want   string // "" for an error
		skip   bool   // errForeign: left out without a warning
	}{
		{courier, "INBOX", "INBOX", false},
		{courier, "INBOX.Spam", "Spam", false},
		{courier, "INBOX.Archive.2024", "Archive/2024", false},
		{courier, "INBOX.INBOX", "", false},
		{courier, "INBOX.inbox", "", false},
		{courier, "Outside", "", false},
		{courier, "#shared", "", true},
		{courier, "#shared.team", "", true},
		{courier, "user.bob.Sent", "", true},
		{&naming{loaded: true, delim: "/"}, "INBOX/Sub", "INBOX/Sub", false},
		{&naming{loaded: true, delim: "/", foreign: []string{"Shared/"}}, "Shared/x", "", true},
		{&naming{loaded: true, delim: "/", foreign: []string{"Shared/"}}, "Sharedx", "Sharedx", false},
	} {
		got, err := tc.n.localName(tc.server, rune(tc.n.delim[0]))
		switch {
		case tc.skip:
			if !errors.Is(err, errForeign) {
				t.Errorf("%q: got %q %v, want it left out", tc.server, got, err)
			}
		case tc.want == "":
			if err == nil || errors.Is(err, errForeign) {
				t.Errorf("%q: got %q %v, want a reason", tc.server, got, err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q: got %q %v, want %q", tc.server, got, err, tc.want)
		}
	}
}
