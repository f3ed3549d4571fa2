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
