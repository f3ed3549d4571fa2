package model

import "bytes"

// Content matching ignores one thing other sync tools add: mbsync (isync
// 1.4) writes an "X-TUID: <12 characters>" line at the end of the header
// of every message it stores in a Maildir, and into messages it uploads,
// to find them again. Fingerprint and ContentHash leave every X-TUID
// header line (with any continuation lines) out, so that a Maildir made
// by mbsync pairs with the server's copies and verify does not take the
// line for corruption. Nothing else is normalized, and no message is
// ever rewritten: a file mailsync writes is the server's message byte
// for byte, and an adopted mbsync file keeps its X-TUID line.

// tuidName is the header field mbsync adds, lowercase, with its colon.
const tuidName = "x-tuid:"

// HasTUID reports whether the header of msg (as HeaderBlock finds it)
// holds an X-TUID line.
func HasTUID(msg []byte) bool {
	_, n := stripTUID(HeaderBlock(msg))
	return n > 0
}

// stripTUID returns header without its X-TUID lines and the number of
// bytes those lines take in CRLF form. header is returned as is (not
// copied) when it has none.
func stripTUID(header []byte) ([]byte, int64) {
	if !containsFold(header, tuidName) {
		return header, 0
	}
	var out []byte
	var removed int64
	dropping := false
	for rest := header; len(rest) > 0; {
		end := bytes.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[end:]
		switch {
		case dropping && len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			// a continuation of the X-TUID field
		case len(line) >= len(tuidName) && bytes.EqualFold(line[:len(tuidName)], []byte(tuidName)):
			dropping = true
		default:
			dropping = false
			out = append(out, line...)
			continue
		}
		removed += CRLFSize(line)
	}
	return out, removed
}

// containsFold reports whether s contains the lowercase ASCII string sub,
// ignoring the case of s.
func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i]|0x20 == sub[0] && bytes.EqualFold(s[i:i+len(sub)], []byte(sub)) {
			return true
		}
	}
	return false
}

// withoutTUID returns msg without the X-TUID lines of its header (msg
// itself when it has none).
func withoutTUID(msg []byte) []byte {
	hdr := HeaderBlock(msg)
	stripped, n := stripTUID(hdr)
	if n == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)-len(hdr)+len(stripped))
	out = append(out, stripped...)
	return append(out, msg[len(hdr):]...)
}
