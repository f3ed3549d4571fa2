package model

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// A Maildir file mbsync wrote (LF endings, an X-TUID line at the end of
// the header) matches the server's copy by fingerprint and hash; the
// server's copy carrying its own X-TUID (mbsync uploaded it) matches too.
func TestTUIDIgnoredForMatching(t *testing.T) {
	wire := []byte("From: a@b\r\nSubject: one\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")
	mbsync := []byte("From: a@b\nSubject: one\nMessage-ID: <1@x>\nX-TUID: RXHRrNwHSQ7X\n\nbody\n")
	folded := []byte("From: a@b\nx-tuid: abc\n def\nSubject: one\nMessage-ID: <1@x>\n\nbody\n")
	wireTUID := []byte("From: a@b\r\nSubject: one\r\nMessage-ID: <1@x>\r\nX-TUID: +ECzQVdlLLIz\r\n\r\nbody\r\n")
	remote := Fingerprint(int64(len(wire)), HeaderBlock(wire))
	for _, local := range [][]byte{mbsync, folded, wireTUID} {
		if got := LocalFingerprint(local); got != remote {
			t.Errorf("LocalFingerprint(%q) = %s, want the server's %s", local, got, remote)
		}
		if ContentHash(local) != ContentHash(wire) {
			t.Errorf("ContentHash(%q) differs from the server's", local)
		}
		if !HasTUID(local) {
			t.Errorf("HasTUID(%q) = false", local)
		}
	}
	if got := Fingerprint(int64(len(wireTUID)), HeaderBlock(wireTUID)); got != remote {
		t.Errorf("server copy with X-TUID: fingerprint %s, want %s", got, remote)
	}
	// Without X-TUID nothing changes: the hash is the SHA-256 of the
	// CRLF form, as verify computes it from the server's bytes.
	s := sha256.Sum256(wire)
	if ContentHash(wire) != hex.EncodeToString(s[:]) || HasTUID(wire) {
		t.Error("a message without X-TUID is hashed differently")
	}
	// Only the header counts: an X-TUID line in the body is content.
	body := []byte("Subject: a\n\nX-TUID: in the body\n")
	if ContentHash(body) == ContentHash([]byte("Subject: a\n\n")) || HasTUID(body) {
		t.Error("an X-TUID line in the body was ignored")
	}
	// Other differences still count.
	if LocalFingerprint([]byte("From: a@b\nSubject: one\nMessage-ID: <2@x>\nX-TUID: RXHRrNwHSQ7X\n\nbody\n")) == remote {
		t.Error("a different Message-ID matched")
	}
}
