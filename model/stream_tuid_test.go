package model

import (
	"bytes"
	"testing"
)

// The streamed sums leave mbsync's X-TUID lines out exactly as
// ContentHash and LocalFingerprint do (a Maildir adopted from mbsync
// pairs whether its bodies are read whole or streamed).
func TestStreamedSumsIgnoreTUID(t *testing.T) {
	for _, msg := range [][]byte{
		[]byte("From: a\nSubject: s\nX-TUID: abcdefghijkl\n\nbody\n"),
		[]byte("From: a\r\nX-TUID: abcdefghijkl\r\nSubject: s\r\n\r\nbody\r\n"),
		[]byte("X-TUID: abcdefghijkl\n continued\nFrom: a\n\nbody\nX-TUID: in the body stays\n"),
		[]byte("From: a\nX-TUID: no body"),
		[]byte("From: a\n\nno TUID\n"),
	} {
		h, tuid, err := HashReaderTUID(bytes.NewReader(msg))
		if err != nil || h != ContentHash(msg) || tuid != HasTUID(msg) {
			t.Errorf("%q: HashReaderTUID %s %v, ContentHash %s HasTUID %v", msg, h, tuid, ContentHash(msg), HasTUID(msg))
		}
		fp, h2, size, err := SumLocal(bytes.NewReader(msg), int64(len(msg)))
		if err != nil || h2 != ContentHash(msg) || fp != LocalFingerprint(msg) || size != CRLFSize(msg) {
			t.Errorf("%q: SumLocal %s %s %d, want %s %s %d", msg, fp, h2, size, LocalFingerprint(msg), ContentHash(msg), CRLFSize(msg))
		}
	}
}
