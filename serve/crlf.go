package serve

import "io"

// lfReader turns CRLF into LF while streaming (model.FromCRLF for a
// reader): a lone CR is kept, and a CR at the end of one read is held
// back until the next byte shows whether an LF follows.
type lfReader struct {
	r      io.Reader
	in     []byte
	out    []byte // converted bytes not yet returned
	heldCR bool
	err    error
}

func newLFReader(r io.Reader) io.Reader {
	return &lfReader{r: r, in: make([]byte, 32*1024)}
}

func (l *lfReader) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			if l.heldCR {
				l.heldCR = false
				l.out = append(l.out[:0], '\r')
				break
			}
			return 0, l.err
		}
		n, err := l.r.Read(l.in)
		l.err = err
		out := l.out[:0]
		for _, c := range l.in[:n] {
			if l.heldCR {
				l.heldCR = false
				if c != '\n' {
					out = append(out, '\r')
				}
			}
			if c == '\r' {
				l.heldCR = true
				continue
			}
			out = append(out, c)
		}
		l.out = out
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}
