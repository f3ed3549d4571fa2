package statedb

import (
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/mailsync/mailsync/model"
)

// Pair values. A pair is stored under its UID (4 bytes, big endian) in
// its folder's pairs bucket. Three encodings of the value exist:
//
//	version 0 (before keywords): [flags byte][key]
//	version 1:                   [0x81][flags byte] then, each a uvarint
//	                             length followed by that many bytes, or a
//	                             uvarint/varint number:
//	                             key, size (uvarint), mtime (varint),
//	                             hash, fingerprint, keyword count
//	                             (uvarint), keywords, and (since the
//	                             inode was recorded) inode (uvarint)
//	version 2 (schema 2):        [0x82] then as version 1, with the hash
//	                             and fingerprint empty: they are in the
//	                             folder's content bucket, under the same
//	                             UID (see encodeContent)
//
// A version 0 value never starts with a byte ≥ 0x80 (the six flags use
// the low bits), so the first byte tells them apart. Load reads all
// three; PutPair writes version 2. Fields appended after the keywords by
// a later version are ignored by this one.
//
// Keeping the hashes apart halves the pages of a pairs bucket (a pair is
// about 70 bytes instead of 165): a quick pass reads every pair's
// summary (PairSummaries) and, the state file being mapped in memory,
// every page it reads counts in the process's memory.
const (
	pairV1 = 0x81
	pairV2 = 0x82
)

// Content values: [0x01] then the hash's 32 bytes and the fingerprint's
// 16 when both are lowercase hex of those lengths (model.ContentHash,
// model.Fingerprint), else [0x00] then each as a uvarint length and that
// many bytes.
const (
	contentStrings = 0x00
	contentRaw     = 0x01
)

var errPairEncoding = errors.New("corrupt pair entry")

// encodePair returns the version 2 value of p and its content value (nil
// when p has neither hash nor fingerprint).
func encodePair(p model.Pair) (pair, content []byte) {
	return encodeInline(model.Pair{UID: p.UID, Key: p.Key, Flags: p.Flags, Keywords: p.Keywords, Size: p.Size, ModTime: p.ModTime, Ino: p.Ino}, pairV2),
		encodeContent(p.Hash, p.Fingerprint)
}

// encodeContent returns the content value of a pair's hash and
// fingerprint (nil when both are empty).
func encodeContent(hash, fp string) []byte {
	if hash == "" && fp == "" {
		return nil
	}
	h, herr := hex.DecodeString(hash)
	f, ferr := hex.DecodeString(fp)
	if herr == nil && ferr == nil && len(h) == 32 && len(f) == 16 && hex.EncodeToString(h) == hash && hex.EncodeToString(f) == fp {
		return append(append([]byte{contentRaw}, h...), f...)
	}
	b := []byte{contentStrings}
	for _, s := range []string{hash, fp} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeContent reads a content value.
func decodeContent(v []byte) (hash, fp string, err error) {
	switch {
	case len(v) == 1+32+16 && v[0] == contentRaw:
		return hex.EncodeToString(v[1:33]), hex.EncodeToString(v[33:]), nil
	case len(v) > 0 && v[0] == contentStrings:
		rest := v[1:]
		var out [2]string
		for i := range out {
			l, n := binary.Uvarint(rest)
			if n <= 0 || l > uint64(len(rest)-n) {
				return "", "", errPairEncoding
			}
			out[i] = string(rest[n : n+int(l)])
			rest = rest[n+int(l):]
		}
		return out[0], out[1], nil
	}
	return "", "", errPairEncoding
}

// encodeInline encodes p as a version 1 value (tag pairV1), hash and
// fingerprint included, or the pairs-bucket part of version 2 (tag
// pairV2, p without them).
func encodeInline(p model.Pair, tag byte) []byte {
	n := 2 + 6*binary.MaxVarintLen64 + len(p.Key) + len(p.Hash) + len(p.Fingerprint)
	for _, k := range p.Keywords {
		n += binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, tag, byte(p.Flags))
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
	if v[0] != pairV1 && v[0] != pairV2 || len(v) < 2 {
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

// decodeStored reads a stored pair: its pairs-bucket value v and its
// content value c (nil: none). A version 1 value holds its hashes
// itself.
func decodeStored(v, c []byte) (model.Pair, error) {
	p, err := decodePair(v)
	if err != nil || len(v) == 0 || v[0] != pairV2 || c == nil {
		return p, err
	}
	p.Hash, p.Fingerprint, err = decodeContent(c)
	if err != nil {
		return model.Pair{}, err
	}
	return p, nil
}

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
	if v[0] != pairV1 && v[0] != pairV2 || len(v) < 2 {
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
	v = v[:len(v):len(v)] // (for field's offsets: nothing past v's end)
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
	// field reads a uvarint length and that many bytes (a slice of v,
	// which runs to v's end: its offset in v is len(v)-cap).
	field := func() []byte {
		l := uvarint()
		if bad || l > uint64(len(rest)) {
			bad = true
			return nil
		}
		f := rest[:l]
		rest = rest[l:]
		return f
	}
	sub := func(f []byte) string {
		if !whole {
			return ""
		}
		off := len(v) - cap(f)
		return sv[off : off+len(f)]
	}
	key := field()
	p.Key = sub(key)
	p.Size = int64(uvarint())
	if !bad {
		mt, n := binary.Varint(rest)
		if n <= 0 {
			bad = true
		} else {
			p.ModTime, rest = mt, rest[n:]
		}
	}
	p.Hash = sub(field())
	p.Fingerprint = sub(field())
	nk := uvarint()
	if nk > uint64(len(rest)) {
		bad = true
	}
	for i := uint64(0); i < nk && !bad; i++ {
		f := field()
		if whole {
			p.Keywords = append(p.Keywords, sub(f))
		} else {
			p.Keywords = append(p.Keywords, string(f))
		}
	}
	if !bad && len(rest) > 0 {
		p.Ino = uvarint()
	}
	if bad || len(key) == 0 {
		return model.Pair{}, errPairEncoding
	}
	return p, nil
}
