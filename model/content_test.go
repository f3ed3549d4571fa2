package model

import (
	"bytes"
	"testing"
)

// A message from the server is stored so that converting it back gives
// the server's exact bytes (issue 8, case 17: "x\r\r\n" lost a CR).
func TestLocalFormRoundTrip(t *testing.T) {
	for _, wire := range []string{
		"",
		"Subject: a\r\n\r\nbody\r\n",
		"Subject: a\r\n\r\nx\r\r\n",
		"Subject: a\r\n\r\nx\r\r\ny\r\n",
		"Subject: a\r\n\r\nlone\rcr\r\n",
		"Subject: a\r\n\r\n\r\r\r\n",
		"no line end",
		"\r\n",
		"\r\r\n",
	} {
		local := LocalForm([]byte(wire))
		if got := ToCRLF(local); !bytes.Equal(got, []byte(wire)) {
			t.Errorf("ToCRLF(LocalForm(%q)) = %q (local %q)", wire, got, local)
		}
		if got := CRLFSize(local); got != int64(len(wire)) {
			t.Errorf("CRLFSize(LocalForm(%q)) = %d, want %d", wire, got, len(wire))
		}
	}
	// The ordinary message is stored with LF endings, as before.
	if got := LocalForm([]byte("a\r\nb\r\n")); string(got) != "a\nb\n" {
		t.Errorf("LocalForm of a plain message = %q, want LF endings", got)
	}
}

func TestUnkeptFlags(t *testing.T) {
	sys := []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}
	if u := UnkeptFlags(sys, true); u != FlagPassed {
		t.Errorf("system flags only: unkept %v, want P", u)
	}
	if u := UnkeptFlags(append(sys, `\*`), true); u != 0 {
		t.Errorf(`with \*: unkept %v, want none`, u)
	}
	if u := UnkeptFlags(append(sys, `$forwarded`), true); u != 0 {
		t.Errorf("with $Forwarded listed: unkept %v, want none", u)
	}
	if u := UnkeptFlags(nil, false); u != 0 {
		t.Errorf("no PERMANENTFLAGS: unkept %v, want none", u)
	}
	if u := UnkeptFlags([]string{`\Seen`, `\Deleted`}, true); u != FlagDraft|FlagFlagged|FlagPassed|FlagReplied {
		t.Errorf("\\Seen \\Deleted only: unkept %v", u)
	}
}
