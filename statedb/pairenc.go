package statedb

import (
	"encoding/binary"
	"errors"

	"github.com/mailsync/mailsync/model"
)

// Pair values. A pair is stored under its UID (4 bytes, big endian). Two
// encodings of the value exist:
//
//	version 0 (before keywords): [flags byte][key]
//	version 1:                   [0x81][flags byte] then, each a uvarint
//	                             length followed by that many bytes, or a
//	                             uvarint/varint number:
//	                             key, size (uvarint), mtime (varint),
//	                             hash, fingerprint, keyword count
//	                             (uvarint), keywords, and (since the
//	                             inode was recorded) inode (uvarint)
//
// A version 0 value never starts with a byte ≥ 0x80 (the six flags use
// the low bits), so the first byte tells the two apart. Load reads both;
// PutPair writes version 1. Fields appended after the keywords by a later
// version are ignored by this one.
const pairV1 = 0x81

var errPairEncoding = errors.New("corrupt pair entry")

func encodePair(p model.Pair) []byte {
	n := 2 + 6*binary.MaxVarintLen64 + len(p.Key) + len(p.Hash) + len(p.Fingerprint)
	for _, k := range p.Keywords {
		n += binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, pairV1, byte(p.Flags))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(p.Key)
	b = binary.AppendUvarint(b, uint64(max(p.Size, 0)))
	b = binary.AppendVarint(b, p.ModTime)
	str(p.Hash)
	str(p.Fingerprint)
	b = binary.AppendUvarint(b, uint64(len(p.Keywords)))
	for _, k := range p.Keywords {
		str(k)
	}
	b = binary.AppendUvarint(b, p.Ino)
	return b
}

// pairKey returns the key of a pair value of either version, without
// decoding the rest (a slice of v).
func pairKey(v []byte) ([]byte, error) {
	if len(v) < 1 {
		return nil, errPairEncoding
	}
	if v[0] < 0x80 {
		return v[1:], nil
	}
	if v[0] != pairV1 || len(v) < 2 {
		return nil, errPairEncoding
	}
	l, n := binary.Uvarint(v[2:])
	if n <= 0 || l > uint64(len(v)-2-n) {
		return nil, errPairEncoding
	}
	return v[2+n : 2+n+int(l)], nil
}

// decodePair reads a pair value of either version; uid is set by the
// caller.
func decodePair(v []byte) (model.Pair, error) { return decodePairAs(v, true) }

// decodeSummary is decodePair without the key, Hash and Fingerprint
// (left empty): no string is made but the keywords'.
func decodeSummary(v []byte) (model.Pair, error) { return decodePairAs(v, false) }

func decodePairAs(v []byte, whole bool) (model.Pair, error) {
	var p model.Pair
	if len(v) < 1 {
		return p, errPairEncoding
	}
	if v[0] < 0x80 {
		p.Flags = model.Flags(v[0]) & model.AllFlags
		if whole {
			p.Key = string(v[1:])
		}
		return p, nil
	}
	if v[0] != pairV1 || len(v) < 2 {
		return p, errPairEncoding
	}
	p.Flags = model.Flags(v[1]) & model.AllFlags
	// One string for the whole value, of which the key, hash,
	// fingerprint and keywords are substrings: one allocation per pair
	// rather than one per field.
	var sv string
	if whole {
		sv = string(v)
	}
	rest := v[2:]
	bad := false
	uvarint := func() uint64 {
		x, n := binary.Uvarint(rest)
		if n <= 0 {
			bad = true
			return 0
		}
		rest = rest[n:]
		return x
	}
	str := func() string {
		l := uvarint()
		if bad || l > uint64(len(rest)) {
			bad = true
			return ""
		}
		off := len(v) - len(rest)
		var s string
		if whole {
			s = sv[off : off+int(l)]
		} else if l > 0 {
			s = "-" // not made (an empty key reads as corrupt below)
		}
		rest = rest[l:]
		return s
	}
	kwStr := func() string {
		if whole {
			return str()
		}
		l := uvarint()
		if bad || l > uint64(len(rest)) {
			bad = true
			return ""
		}
		s := string(rest[:l])
		rest = rest[l:]
		return s
	}
	p.Key = str()
	p.Size = int64(uvarint())
	if !bad {
		mt, n := binary.Varint(rest)
		if n <= 0 {
			bad = true
		} else {
			p.ModTime, rest = mt, rest[n:]
		}
	}
	p.Hash = str()
	p.Fingerprint = str()
	if !whole {
		p.Hash, p.Fingerprint = "", ""
	}
	nk := uvarint()
	if nk > uint64(len(rest)) {
		bad = true
	}
	for i := uint64(0); i < nk && !bad; i++ {
		p.Keywords = append(p.Keywords, kwStr())
	}
	if !bad && len(rest) > 0 {
		p.Ino = uvarint()
	}
	if bad || p.Key == "" {
		return model.Pair{}, errPairEncoding
	}
	if !whole {
		p.Key = ""
	}
	return p, nil
}
