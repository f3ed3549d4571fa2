package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
)

// Line endings: IMAP carries messages with CRLF line endings, a Maildir
// stores them with LF. ToCRLF and FromCRLF convert between the two; a
// lone CR (one not followed by LF) is kept as it is both ways.

// FromCRLF returns b with every CRLF turned into LF. It loses bytes when
// b holds a CR right before a CRLF ("x\r\r\n" becomes "x\r\n", which
// ToCRLF gives back as "x\r\n"): to store a message from the server use
// LocalForm, which never does.
func FromCRLF(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

// LocalForm returns the form in which a message received from the
// server as wire is stored in a Maildir: with LF line endings when
// ToCRLF gives wire back exactly, else wire itself. So ToCRLF(LocalForm(w))
// == w for every w whose LFs all follow a CR (every message an IMAP
// server may send): a CR right before a line end ("x\r\r\n", as mail
// mangled by some Windows tools has) survives the round trip, and so
// do the fingerprint and the size, which are computed from ToCRLF.
func LocalForm(wire []byte) []byte {
	local := FromCRLF(wire)
	if len(local) == len(wire) || bytes.Equal(ToCRLF(local), wire) {
		return local
	}
	return wire
}

// ToCRLF returns b with every LF that is not already preceded by CR
// turned into CRLF.
func ToCRLF(b []byte) []byte {
	n := CRLFSize(b)
	if n == int64(len(b)) {
		return b
	}
	out := make([]byte, 0, n)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// CRLFSize is len(ToCRLF(b)) without the copy: the size the server will
// report as RFC822.SIZE for a message stored locally as b.
func CRLFSize(b []byte) int64 {
	n := int64(len(b))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	return n
}

// HeaderBlock returns the header of message b: everything up to and
// including the first empty line, or all of b when it has none.
func HeaderBlock(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("\n")) {
		return b[:1]
	}
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return b[:2]
	}
	for i := 0; i < len(b)-1; i++ {
		if b[i] != '\n' {
			continue
		}
		if b[i+1] == '\n' {
			return b[:i+2]
		}
		if b[i+1] == '\r' && i+2 < len(b) && b[i+2] == '\n' {
			return b[:i+3]
		}
	}
	return b
}

// Fingerprint identifies a message's content across the two sides without
// its body: the size with CRLF line endings and a hash of its header
// block in CRLF form. Two messages with the same fingerprint are taken to
// be candidates for the same message (the header holds Message-ID, Date
// and Received); ContentHash confirms it.
// header may use either line ending. X-TUID header lines are left out of
// both the size and the header (see normalize.go).
func Fingerprint(crlfSize int64, header []byte) string {
	header, tuid := stripTUID(header)
	crlfSize -= tuid
	h := sha256.New()
	io.WriteString(h, strconv.FormatInt(crlfSize, 10))
	h.Write([]byte{0})
	h.Write(ToCRLF(header))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// LocalFingerprint is Fingerprint for a whole message as stored in a
// Maildir file.
func LocalFingerprint(msg []byte) string {
	return Fingerprint(CRLFSize(msg), HeaderBlock(msg))
}

// ContentHash is the SHA-256 of a message in CRLF form: verify compares
// it, and pairing by content confirms a fingerprint match with it (the
// same for a Maildir file and the server's copy of it). X-TUID header
// lines are left out (see normalize.go).
func ContentHash(msg []byte) string {
	s := sha256.Sum256(ToCRLF(withoutTUID(msg)))
	return hex.EncodeToString(s[:])
}
