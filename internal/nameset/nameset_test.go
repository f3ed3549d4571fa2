package nameset

import "testing"

func TestSet(t *testing.T) {
	var a, b Set
	for _, n := range []string{"x", "y", "z"} {
		a.Add(n)
	}
	for _, n := range []string{"z", "x", "y"} {
		b.AddBytes([]byte(n))
	}
	if a != b || a.Len() != 3 {
		t.Fatalf("same names in another order differ: %+v %+v", a, b)
	}
	b.Remove("y")
	b.Add("w")
	if a == b {
		t.Fatal("different sets compare equal")
	}
	var c, d Set
	c.Add("x")
	d.Add("y")
	d.Add("z")
	c.Union(d)
	if c != a {
		t.Fatal("union differs")
	}
	var dup Set
	dup.Add("x")
	dup.Add("x")
	var one Set
	one.Add("x")
	if dup == one {
		t.Fatal("a name twice compares equal to once")
	}
}
