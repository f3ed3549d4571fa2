package model

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// memFile is a ReadWriterAt in memory.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// streamLocal stores wire through a LocalFormWriter in pieces of step
// bytes (all at once when step is 0).
func streamLocal(t *testing.T, dst ReadWriterAt, wire []byte, step int) LocalSum {
	t.Helper()
	w := NewLocalFormWriter(dst)
	if step <= 0 {
		step = len(wire) + 1
	}
	for p := wire; len(p) > 0; {
		n := min(step, len(p))
		if k, err := w.Write(p[:n]); err != nil || k != n {
			t.Fatalf("Write = %d, %v", k, err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := w.Sum()
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkStream compares streaming storage with the whole-buffer functions.
func checkStream(t *testing.T, wire []byte, step int) {
	t.Helper()
	var m memFile
	sum := streamLocal(t, &m, wire, step)
	local := LocalForm(wire)
	if !bytes.Equal(m.b, local) {
		t.Fatalf("step %d: stored %q, LocalForm gives %q (wire %q)", step, m.b, local, wire)
	}
	want := LocalSum{WireSize: int64(len(wire)), LocalSize: int64(len(local)),
		Fingerprint: LocalFingerprint(local), Hash: ContentHash(local)}
	if sum != want {
		t.Fatalf("step %d, wire %.200q:\n got %+v\nwant %+v", step, wire, sum, want)
	}
	if ContentHash(wire) != sum.Hash {
		t.Fatalf("ContentHash(wire) %s != stored hash %s", ContentHash(wire), sum.Hash)
	}
	if h, err := HashReader(bytes.NewReader(wire)); err != nil || h != sum.Hash {
		t.Fatalf("HashReader = %s, %v; want %s", h, err, sum.Hash)
	}
	// NewCRLFReader gives ToCRLF, in pieces of any size.
	got, err := io.ReadAll(io.LimitReader(NewCRLFReader(stepped(bytes.NewReader(wire), step)), 1<<40))
	if err != nil || !bytes.Equal(got, ToCRLF(wire)) {
		t.Fatalf("NewCRLFReader(%.200q) = %.200q, %v", wire, got, err)
	}
	// SumLocal of any bytes, stored or not.
	for _, b := range [][]byte{wire, local} {
		fp, hash, size, err := SumLocal(bytes.NewReader(b), int64(len(b)))
		if err != nil || fp != LocalFingerprint(b) || hash != ContentHash(b) || size != CRLFSize(b) {
			t.Fatalf("SumLocal(%.200q) = %s %s %d %v, want %s %s %d", b, fp, hash, size, err, LocalFingerprint(b), ContentHash(b), CRLFSize(b))
		}
	}
}

// FuzzLocalFormWriter: storing a message streamed, in pieces of any
// size, gives LocalForm's bytes, LocalFingerprint and ContentHash.
func FuzzLocalFormWriter(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n\r\nbody\r\n", "\r\r\n", "x\r\r\n\r\ny", "a\nb", "\n", "\r\n", "\r", "\r\r",
		"H: v\r\n\r\n", "H: v\r\n\rx\r\n\r\nb", "a\r\nb\nc\r\n", "\r\n\r\n", "h\r\n\r\r\n\r\n"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, wire []byte, step uint8) {
		checkStream(t, wire, int(step))
	})
}

// TestLocalFormWriterLarge: a fall-back deep into a large message
// (rewriting many chunks in place), and header blocks longer than what
// is kept in memory, read back from the file.
func TestLocalFormWriterLarge(t *testing.T) {
	line := "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr\r\n"
	body := strings.Repeat(line, 5000) // 330 kB: many rewrite chunks
	for name, wire := range map[string]string{
		"lf form":             "Subject: x\r\n\r\n" + body,
		"cr before crlf late": "Subject: x\r\n\r\n" + body + "odd\r\r\n" + body,
		"bare lf late":        "Subject: x\r\n\r\n" + body + "bare\n" + body,
		"no empty line":       body,
		"no empty line, raw":  body + "x\r\r\n" + body,
		"long header":         strings.Repeat("X-H: "+line, 4200) + "\r\n" + body,
		"long header, raw":    strings.Repeat("X-H: "+line, 4200) + "\n\r\n" + body,
	} {
		t.Run(name, func(t *testing.T) {
			for _, step := range []int{0, 1000, 100000} {
				checkStream(t, []byte(wire), step)
			}
		})
	}
}

// TestLocalFormWriterFile: into a real file.
func TestLocalFormWriterFile(t *testing.T) {
	wire := []byte("Subject: a\r\n\r\nline\r\nodd\r\r\nend\r\n")
	fh, err := os.Create(filepath.Join(t.TempDir(), "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sum := streamLocal(t, fh, wire, 3)
	got, err := os.ReadFile(fh.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, LocalForm(wire)) || sum.Hash != ContentHash(wire) || sum.LocalSize != int64(len(got)) {
		t.Errorf("file %q, sum %+v", got, sum)
	}
}

// stepped reads r at most step bytes at a time (all when 0).
func stepped(r io.Reader, step int) io.Reader {
	if step <= 0 {
		return r
	}
	return &stepReader{r, step}
}

type stepReader struct {
	r    io.Reader
	step int
}

func (s *stepReader) Read(p []byte) (int, error) {
	return s.r.Read(p[:min(len(p), s.step)])
}

// TestCRLFReaderStartsOver: a CRLF reader of a reader that can seek can
// start over (an upload sent again after a refused MULTIAPPEND) and then
// gives the same bytes, line ends converted as the first time; one of a
// reader that cannot seek is no io.Seeker.
func TestCRLFReaderStartsOver(t *testing.T) {
	stored := []byte("Subject: x\n\nline\r\nbare\rcr\n" + strings.Repeat("y\n", 20000))
	r := NewCRLFReader(bytes.NewReader(stored))
	s, ok := r.(io.Seeker)
	if !ok {
		t.Fatal("a CRLF reader of a bytes.Reader cannot seek")
	}
	half := make([]byte, 1000)
	if _, err := io.ReadFull(r, half); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, ToCRLF(stored)) {
		t.Fatalf("after starting over: %d bytes, %v; want ToCRLF's %d", len(got), err, len(ToCRLF(stored)))
	}
	if _, err := s.Seek(5, io.SeekStart); err == nil {
		t.Error("Seek(5) succeeded")
	}
	if _, ok := NewCRLFReader(struct{ io.Reader }{bytes.NewReader(stored)}).(io.Seeker); ok {
		t.Error("a CRLF reader of a plain reader claims to seek")
	}
}
