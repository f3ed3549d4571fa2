package model

import (
	"bytes"
	"testing"
)

// FuzzLineEndings: ToCRLF leaves no bare LF, agrees with CRLFSize, is
// idempotent, and FromCRLF undoes it (as far as FromCRLF alone would).
func FuzzLineEndings(f *testing.F) {
	for _, s := range []string{"", "a\nb\n", "a\r\nb\r\n", "\r", "\r\r\n", "\n\r", "x\ry\n", "\n\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		crlf := ToCRLF(b)
		if !bytes.Equal(b, orig) {
			t.Fatal("ToCRLF changed its input")
		}
		if int64(len(crlf)) != CRLFSize(b) {
			t.Fatalf("len(ToCRLF) = %d, CRLFSize = %d", len(crlf), CRLFSize(b))
		}
		for i, c := range crlf {
			if c == '\n' && (i == 0 || crlf[i-1] != '\r') {
				t.Fatalf("bare LF at %d in %q", i, crlf)
			}
		}
		if !bytes.Equal(ToCRLF(crlf), crlf) {
			t.Fatalf("ToCRLF not idempotent on %q", b)
		}
		lf := FromCRLF(b)
		if !bytes.Equal(FromCRLF(crlf), lf) {
			t.Fatalf("FromCRLF(ToCRLF(%q)) = %q, want %q", b, FromCRLF(crlf), lf)
		}
		if bytes.Contains(lf, []byte("\r\n")) && !bytes.Contains(b, []byte("\r\r\n")) {
			t.Fatalf("FromCRLF(%q) = %q keeps a CRLF", b, lf)
		}
		if !bytes.Equal(ToCRLF(lf), crlf) && !bytes.Contains(b, []byte("\r\r")) {
			t.Fatalf("ToCRLF(FromCRLF(%q)) = %q, want %q", b, ToCRLF(lf), crlf)
		}
	})
}
