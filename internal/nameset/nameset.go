// Package nameset compares sets of names without building or sorting
// them: a Set is a count and two sums of keyed 64-bit hashes, so that
// sets compare in any order and one name can be taken out again. Two
// different sets compare equal only if both sums collide; the hash keys
// are random per process, so Sets are compared within one process only
// (never stored).
package nameset

import "hash/maphash"

// Set is a set (or multiset) of names as sums. The zero value is empty.
type Set struct {
	n    int
	a, b uint64
}

var seedA, seedB = maphash.MakeSeed(), maphash.MakeSeed()

// Add adds name.
func (s *Set) Add(name string) {
	s.n++
	s.a += maphash.String(seedA, name)
	s.b += maphash.String(seedB, name)
}

// AddBytes is Add for a name not made a string (maphash gives a []byte
// and the string of the same bytes the same hash).
func (s *Set) AddBytes(name []byte) {
	s.n++
	s.a += maphash.Bytes(seedA, name)
	s.b += maphash.Bytes(seedB, name)
}

// Remove takes name out (it must have been added).
func (s *Set) Remove(name string) {
	s.n--
	s.a -= maphash.String(seedA, name)
	s.b -= maphash.String(seedB, name)
}

// Union adds every name of t.
func (s *Set) Union(t Set) {
	s.n += t.n
	s.a += t.a
	s.b += t.b
}

// Len is the number of names added (a name added twice counts twice).
func (s Set) Len() int { return s.n }
