package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"sync"
)

// ReadWriterAt is what LocalFormWriter writes to: a file opened for
// reading and writing (*os.File).
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// LocalSum is what LocalFormWriter learned about the message it stored.
type LocalSum struct {
	// WireSize is the number of bytes received (written to the
	// LocalFormWriter); LocalSize the number of bytes stored.
	WireSize, LocalSize int64
	// Fingerprint is LocalFingerprint and Hash is ContentHash of the
	// stored bytes (LocalForm of the received ones).
	Fingerprint, Hash string
}

// headerKeep is how much of a header block LocalFormWriter keeps in
// memory for the fingerprint; a longer one (a message without an empty
// line) is read back from the file at Close.
const headerKeep = 256 << 10

// LocalFormWriter stores a message received from the server (its wire
// form, written to it in pieces of any size) in LocalForm, streaming: the
// file dst gets exactly LocalForm(wire) once Close returns, and Sum gives
// its fingerprint and content hash, with memory bounded whatever the
// message's size. It writes LF line endings while the message allows
// them; at the first byte that LocalForm would keep the wire form for (a
// CR before a CRLF, or a bare LF) it rewrites what it stored so far
// back to the wire form, in place, and stores the rest as it comes.
// dst must be empty at the start; only dst's bytes from 0 to LocalSize
// are written (with WriteAt: the file offset is not used). One goroutine
// at a time.
type LocalFormWriter struct {
	dst    ReadWriterAt
	off    int64  // bytes stored in dst
	buf    []byte // stored bytes not yet written to dst (pooled: nil once closed)
	err    error
	closed bool

	raw       bool  // fallen back: the rest is stored as received
	pendingCR bool  // LF mode: the last byte received is a CR not yet stored
	crcr      bool  // and the byte before it was a CR too
	lfs       int64 // LF mode: LFs stored (each a CRLF received)

	// c sums the CRLF form of what was received, which is also the
	// CRLF form of what is stored.
	c canon
}

// canon sums the CRLF form (ToCRLF) of a message written to it in
// pieces: its hash, its size and its header block.
type canon struct {
	prev    byte  // the last byte written
	n       int64 // bytes written
	sum     hash.Hash
	crlf    int64
	hdr     []byte // the header block so far, up to headerKeep
	hdrLen  int64  // its length
	hdrDone bool
	last2   [2]byte // the last two bytes of the CRLF form
	// spilled: the header outgrew headerKeep and is being summed as it
	// comes (its X-TUID lines, if any, are then summed too). Until then
	// the header is summed once complete, without X-TUID lines, as
	// ContentHash does.
	spilled bool
	tuid    bool // the header held X-TUID lines, left out of the sum
}

// writeBufs holds LocalFormWriter buffers between messages: a download
// of many messages reuses a few rather than allocating one per message.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// NewLocalFormWriter returns a LocalFormWriter storing into dst.
func NewLocalFormWriter(dst ReadWriterAt) *LocalFormWriter {
	return &LocalFormWriter{dst: dst, buf: (*writeBufs.Get().(*[]byte))[:0], c: canon{sum: sha256.New()}}
}

// release gives the buffer back once nothing more is stored.
func (w *LocalFormWriter) release() {
	if w.buf != nil {
		b := w.buf[:0]
		writeBufs.Put(&b)
		w.buf = nil
	}
}

// Write stores p (the next bytes received). It fails only when dst does,
// and then keeps failing.
func (w *LocalFormWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("model: write after Close")
	}
	prev := w.c.prev
	for q := p; len(q) > 0 && w.err == nil; {
		if w.raw {
			w.put(q...)
			break
		}
		if !w.pendingCR {
			// A run of bytes that are neither CR nor LF is stored as is.
			i := indexCRLF(q)
			if i < 0 {
				i = len(q)
			}
			if i > 0 {
				w.put(q[:i]...)
				prev, q = q[i-1], q[i:]
				continue
			}
		}
		w.lfByte(q[0], prev)
		prev, q = q[0], q[1:]
	}
	if w.err != nil {
		return 0, w.err
	}
	w.c.write(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// lfByte takes byte c in LF mode (prev is the byte received before it).
func (w *LocalFormWriter) lfByte(c, prev byte) {
	if w.pendingCR {
		if c == '\n' {
			if w.crcr {
				w.fallBack() // "\r\r\n": LocalForm keeps the wire form
				w.put(c)
				return
			}
			w.pendingCR = false
			w.lfs++
			w.put('\n')
			return
		}
		w.pendingCR = false
		w.put('\r') // a lone CR
	}
	switch c {
	case '\r':
		w.pendingCR, w.crcr = true, prev == '\r'
	case '\n':
		w.fallBack() // a bare LF: LocalForm keeps the wire form
		w.put(c)
	default:
		w.put(c)
	}
}

// indexCRLF is the index of the first CR or LF in b, or -1.
func indexCRLF(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return -1
}

// put stores bytes (buffered).
func (w *LocalFormWriter) put(b ...byte) {
	for len(b) > 0 && w.err == nil {
		n := min(len(b), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, b[:n]...)
		b = b[n:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
}

func (w *LocalFormWriter) flush() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	_, w.err = w.dst.WriteAt(w.buf, w.off)
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
}

// fallBack turns what is stored (LF form of a wire prefix holding no
// bare LF and no "\r\r\n", so that each stored LF was a CRLF) back into
// the wire form, in place from the end so that nothing is overwritten
// before it is read, and stores the rest as received from then on. A CR
// received and not yet stored is stored.
func (w *LocalFormWriter) fallBack() {
	w.flush()
	if w.err != nil {
		return
	}
	in := make([]byte, 32<<10)
	out := make([]byte, 0, 2*len(in))
	end, lfs := w.off, w.lfs // lfs: LFs stored before end
	for end > 0 && lfs > 0 {
		start := max(end-int64(len(in)), 0)
		chunk := in[:end-start]
		if _, err := w.dst.ReadAt(chunk, start); err != nil {
			w.err = err
			return
		}
		out = out[:0]
		for _, c := range chunk {
			if c == '\n' {
				out = append(out, '\r')
				lfs--
			}
			out = append(out, c)
		}
		if _, err := w.dst.WriteAt(out, start+lfs); err != nil {
			w.err = err
			return
		}
		end = start
	}
	w.off += w.lfs
	w.raw, w.lfs = true, 0
	if w.pendingCR {
		w.pendingCR = false
		w.put('\r')
	}
}

// write takes the next bytes of the message.
func (w *canon) write(p []byte) {
	start := 0
	for off := 0; off < len(p); {
		j := bytes.IndexByte(p[off:], '\n')
		if j < 0 {
			break
		}
		i := off + j
		var prev byte
		if i > 0 {
			prev = p[i-1]
		} else {
			prev = w.prev
		}
		if !(prev == '\r' && (i > 0 || w.n > 0)) {
			w.crlfBytes(p[start:i])
			w.crlfBytes([]byte{'\r'})
			start = i
		}
		off = i + 1
	}
	w.crlfBytes(p[start:])
	w.n += int64(len(p))
	if len(p) > 0 {
		w.prev = p[len(p)-1]
	}
}

// crlfBytes takes the next bytes of the CRLF form.
func (w *canon) crlfBytes(b []byte) {
	if w.hdrDone {
		w.sum.Write(b)
		w.crlf += int64(len(b))
		return
	}
	for i, c := range b {
		w.crlf++
		w.hdrLen++
		switch {
		case w.spilled:
			w.sum.Write(b[i : i+1])
		case len(w.hdr) < headerKeep:
			w.hdr = append(w.hdr, c)
		default:
			w.spilled = true
			w.sum.Write(w.hdr)
			w.sum.Write(b[i : i+1])
		}
		// HeaderBlock of a CRLF text: up to "\r\n" at its start, or to
		// the first "\n\r\n" (every LF follows a CR there).
		if c == '\n' && (w.crlf == 2 || w.last2 == [2]byte{'\n', '\r'}) {
			w.endHeader()
			rest := b[i+1:]
			w.sum.Write(rest)
			w.crlf += int64(len(rest)) // the rest is body
			return
		}
		w.last2 = [2]byte{w.last2[1], c}
	}
}

// endHeader sums the header block, once it is complete (or the message
// ended inside it), without its X-TUID lines.
func (w *canon) endHeader() {
	if w.hdrDone {
		return
	}
	w.hdrDone = true
	if !w.spilled {
		stripped, n := stripTUID(w.hdr)
		w.tuid = n > 0
		w.sum.Write(stripped)
	}
}

// Close stores what is still held (a final CR) and computes the sums.
// It does not close dst.
func (w *LocalFormWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.pendingCR {
		w.pendingCR = false
		w.put('\r')
	}
	w.flush()
	w.release()
	w.closed = true
	return w.err
}

// Sum returns what was learned about the message; call it after Close.
func (w *LocalFormWriter) Sum() (LocalSum, error) {
	if w.err != nil {
		return LocalSum{}, w.err
	}
	fp, hash, err := w.c.finish(w.dst, w.off)
	if err != nil {
		return LocalSum{}, err
	}
	return LocalSum{WireSize: w.c.n, LocalSize: w.off, Fingerprint: fp, Hash: hash}, nil
}

// finish returns Fingerprint and ContentHash of the message written.
// stored (size bytes) is the message as stored, read back when its
// header block was too long to keep.
func (w *canon) finish(stored io.ReaderAt, size int64) (fingerprint, hash string, err error) {
	w.endHeader()
	if w.hdrLen <= int64(len(w.hdr)) {
		// Fingerprint leaves X-TUID lines out of the size and header.
		return Fingerprint(w.crlf, w.hdr), hex.EncodeToString(w.sum.Sum(nil)), nil
	}
	// A header longer than headerKeep: read back and summed whole.
	f := sha256.New()
	io.WriteString(f, strconv.FormatInt(w.crlf, 10))
	f.Write([]byte{0})
	if err := headerFrom(f, stored, size, w.hdrLen); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(f.Sum(nil)[:16]), hex.EncodeToString(w.sum.Sum(nil)), nil
}

// headerFrom feeds the first hdrLen bytes of the CRLF form of the
// message in src (size bytes) to h.
func headerFrom(h io.Writer, src io.ReaderAt, size, hdrLen int64) error {
	left := hdrLen
	buf := make([]byte, 32<<10)
	out := make([]byte, 0, 2*len(buf))
	var prev byte
	for off := int64(0); left > 0 && off < size; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n == 0 && err != nil {
			return err
		}
		out = out[:0]
		for i, c := range buf[:n] {
			if c == '\n' && !(prev == '\r' && (i > 0 || off > 0)) {
				out = append(out, '\r')
			}
			out = append(out, c)
			prev = c
		}
		take := min(int64(len(out)), left)
		h.Write(out[:take])
		left -= take
		off += int64(n)
	}
	return nil
}

// SumLocal returns LocalFingerprint, ContentHash and CRLFSize of the
// message stored in r (size bytes, e.g. a Maildir file), reading it
// once (its header twice when that is very long) and holding no more
// than a header of it.
func SumLocal(r io.ReaderAt, size int64) (fingerprint, hash string, crlfSize int64, err error) {
	c := canon{sum: sha256.New()}
	bp := getBuf()
	defer bufs.Put(bp)
	buf := *bp
	for off := int64(0); off < size; {
		n, rerr := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		c.write(buf[:n])
		off += int64(n)
		if rerr != nil && (rerr != io.EOF || off < size) {
			return "", "", 0, rerr
		}
	}
	fingerprint, hash, err = c.finish(r, size)
	return fingerprint, hash, c.crlf, err
}

// HashReader is ContentHash of the message r reads, streaming; it
// returns r's error, if any.
func HashReader(r io.Reader) (string, error) {
	h, _, err := HashReaderTUID(r)
	return h, err
}

// HashReaderTUID is HashReader, and reports whether the message's
// header held X-TUID lines (left out of the hash, see normalize.go).
func HashReaderTUID(r io.Reader) (hash string, tuid bool, err error) {
	c := canon{sum: sha256.New()}
	bp := getBuf()
	defer bufs.Put(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		c.write(buf[:n])
		if err == io.EOF {
			c.endHeader()
			return hex.EncodeToString(c.sum.Sum(nil)), c.tuid, nil
		}
		if err != nil {
			return "", false, err
		}
	}
}

// crlfReader is NewCRLFReader's reader.
// bufs holds 64 KiB buffers for reading messages: hashing or uploading
// hundreds of messages in a run would otherwise allocate (and fault in)
// a fresh one for each.
var bufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

type crlfReader struct {
	r       io.Reader
	prev    byte
	started bool
	in, out []byte
	inBuf   *[]byte // from bufs, holding in and out
	off     int
	err     error
}

// NewCRLFReader returns a reader of ToCRLF of what r reads (a message
// as stored in a Maildir), converting as it goes: CRLFSize of the
// message tells how many bytes it gives.
func NewCRLFReader(r io.Reader) io.Reader {
	if s, ok := r.(io.ReadSeeker); ok {
		return &crlfSeeker{crlfReader{r: s}, s}
	}
	return &crlfReader{r: r}
}

// crlfSeeker is a crlfReader of a reader that can seek: it can start
// over (an upload sent again one message at a time after a refused
// MULTIAPPEND).
type crlfSeeker struct {
	crlfReader
	s io.Seeker
}

// Seek supports only Seek(0, io.SeekStart): reading starts over.
func (c *crlfSeeker) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, errors.New("model: a CRLF reader can only seek to its start")
	}
	if _, err := c.s.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	c.release()
	c.crlfReader = crlfReader{r: c.crlfReader.r}
	return 0, nil
}

func (c *crlfReader) Read(p []byte) (int, error) {
	for c.off == len(c.out) {
		if c.err != nil {
			c.release()
			return 0, c.err
		}
		if c.inBuf == nil {
			// One pooled 64 KiB buffer: a third read, the rest for
			// what it becomes (each LF may gain a CR).
			c.inBuf = getBuf()
			b := *c.inBuf
			c.in, c.out = b[:len(b)/3:len(b)/3], b[len(b)/3:len(b)/3]
		}
		n, err := c.r.Read(c.in)
		c.out, c.off, c.err = c.out[:0], 0, err
		for _, b := range c.in[:n] {
			if b == '\n' && (!c.started || c.prev != '\r') {
				c.out = append(c.out, '\r')
			}
			c.out = append(c.out, b)
			c.prev, c.started = b, true
		}
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

// release gives the reader's buffer back once everything is read (a
// Seek to the start takes another).
func (c *crlfReader) release() {
	if c.inBuf != nil {
		bufs.Put(c.inBuf)
		c.inBuf, c.in, c.out, c.off = nil, nil, nil, 0
	}
}
