package maildir

// Modified UTF-7 (RFC 3501 5.1.3), the spelling mbsync 1.4 and
// OfflineIMAP give folder names on disk in a nested ("fs") Maildir.
// Copied from go-imap v2.0.0-beta.8's internal/utf7 (MIT licence,
// Copyright (c) 2013 The Go-IMAP Authors, (c) 2016 Proton Technologies
// AG, (c) 2023 Simon Ser), which cannot be imported from outside
// go-imap. Only the names were changed.

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	utf7Min = 0x20 // Minimum self-representing UTF-7 value
	utf7Max = 0x7E // Maximum self-representing UTF-7 value
)

var utf7B64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")

var errInvalidUTF7 = errors.New("invalid modified UTF-7")

// utf7Encode encodes a string with modified UTF-7.
func utf7Encode(src string) string {
	var sb strings.Builder
	sb.Grow(len(src))

	for i := 0; i < len(src); {
		ch := src[i]

		if utf7Min <= ch && ch <= utf7Max {
			sb.WriteByte(ch)
			if ch == '&' {
				sb.WriteByte('-')
			}

			i++
		} else {
			start := i

			// Find the next printable ASCII code point
			i++
			for i < len(src) && (src[i] < utf7Min || src[i] > utf7Max) {
				i++
			}

			sb.Write(utf7EncodeRun([]byte(src[start:i])))
		}
	}

	return sb.String()
}

// Converts string s from UTF-8 to UTF-16-BE, encodes the result as base64,
// removes the padding, and adds UTF-7 shifts.
func utf7EncodeRun(s []byte) []byte {
	// len(s) is sufficient for UTF-8 to UTF-16 conversion if there are no
	// control code points (see table below).
	b := make([]byte, 0, len(s)+4)
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r > utf8.MaxRune {
			r, size = utf8.RuneError, 1 // Bug fix (issue 3785)
		}
		s = s[size:]
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			b = append(b, byte(r1>>8), byte(r1))
			r = r2
		}
		b = append(b, byte(r>>8), byte(r))
	}

	// Encode as base64
	n := utf7B64.EncodedLen(len(b)) + 2
	b64 := make([]byte, n)
	utf7B64.Encode(b64[1:], b)

	// Strip padding
	n -= 2 - (len(b)+2)%3
	b64 = b64[:n]

	// Add UTF-7 shifts
	b64[0] = '&'
	b64[n-1] = '-'
	return b64
}

// utf7Decode decodes a string encoded with modified UTF-7.
//
// Note, raw UTF-8 is accepted.
func utf7Decode(src string) (string, error) {
	if !utf8.ValidString(src) {
		return "", errors.New("invalid UTF-8")
	}

	var sb strings.Builder
	sb.Grow(len(src))

	ascii := true
	for i := 0; i < len(src); i++ {
		ch := src[i]

		if ch < utf7Min || (ch > utf7Max && ch < utf8.RuneSelf) {
			// Illegal code point in ASCII mode. Note, UTF-8 codepoints are
			// always allowed.
			return "", errInvalidUTF7
		}

		if ch != '&' {
			sb.WriteByte(ch)
			ascii = true
			continue
		}

		// Find the end of the Base64 or "&-" segment
		start := i + 1
		for i++; i < len(src) && src[i] != '-'; i++ {
			if src[i] == '\r' || src[i] == '\n' { // base64 package ignores CR and LF
				return "", errInvalidUTF7
			}
		}

		if i == len(src) { // Implicit shift ("&...")
			return "", errInvalidUTF7
		}

		if i == start { // Escape sequence "&-"
			sb.WriteByte('&')
			ascii = true
		} else { // Control or non-ASCII code points in base64
			if !ascii { // Null shift ("&...-&...-")
				return "", errInvalidUTF7
			}

			b := utf7DecodeRun([]byte(src[start:i]))
			if len(b) == 0 { // Bad encoding
				return "", errInvalidUTF7
			}
			sb.Write(b)

			ascii = false
		}
	}

	return sb.String(), nil
}

// Extracts UTF-16-BE bytes from base64 data and converts them to UTF-8.
// A nil slice is returned if the encoding is invalid.
func utf7DecodeRun(b64 []byte) []byte {
	var b []byte

	// Allocate a single block of memory large enough to store the Base64 data
	// (if padding is required), UTF-16-BE bytes, and decoded UTF-8 bytes.
	// Since a 2-byte UTF-16 sequence may expand into a 3-byte UTF-8 sequence,
	// double the space allocation for UTF-8.
	if n := len(b64); b64[n-1] == '=' {
		return nil
	} else if n&3 == 0 {
		b = make([]byte, utf7B64.DecodedLen(n)*3)
	} else {
		n += 4 - n&3
		b = make([]byte, n+utf7B64.DecodedLen(n)*3)
		copy(b[copy(b, b64):n], []byte("=="))
		b64, b = b[:n], b[n:]
	}

	// Decode Base64 into the first 1/3rd of b
	n, err := utf7B64.Decode(b, b64)
	if err != nil || n&1 == 1 {
		return nil
	}

	// Decode UTF-16-BE into the remaining 2/3rds of b
	b, s := b[:n], b[n:]
	j := 0
	for i := 0; i < n; i += 2 {
		r := rune(b[i])<<8 | rune(b[i+1])
		if utf16.IsSurrogate(r) {
			if i += 2; i == n {
				return nil
			}
			r2 := rune(b[i])<<8 | rune(b[i+1])
			if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
				return nil
			}
		} else if utf7Min <= r && r <= utf7Max {
			return nil
		}
		j += utf8.EncodeRune(s[j:], r)
	}
	return s[:j]
}
