package serve

import (
	"bytes"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailsync/mailsync/model"
)

// Fetch answers FETCH and UID FETCH for the messages of the session's
// view that still exist (a message removed on disk but not yet announced
// as expunged is left out). Fetching a body section without PEEK sets
// \Seen, unless the selection is read-only, and then reports FLAGS.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sel == nil {
		return errNo("", "no mailbox selected")
	}
	mb := s.sel
	markSeen := false
	if !s.readOnly {
		for _, bs := range options.BodySection {
			markSeen = markSeen || !bs.Peek
		}
		for _, bs := range options.BinarySection {
			markSeen = markSeen || !bs.Peek
		}
	}
	needBody := options.Envelope || options.BodyStructure != nil ||
		len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	if options.ModSeq || options.ChangedSince > 0 {
		s.condStore = true
	}
	for _, i := range s.resolve(numSet) {
		uid := s.view[i].uid
		info, ok := mb.lookup(uid)
		if !ok {
			continue
		}
		if options.ChangedSince > 0 && info.modSeq <= options.ChangedSince {
			continue
		}
		var data []byte
		if needBody || (options.RFC822Size && info.size < 0) {
			b, err := mb.read(info)
			if isNotExist(err) {
				continue
			}
			if err != nil {
				s.srv.log.Printf("serve: fetch %d from %q: %v", uid, mb.name, err)
				return errNo(imap.ResponseCodeServerBug, "cannot read message %d", uid)
			}
			data = b
			info.size = int64(len(b))
		}
		sendFlags := options.Flags
		if markSeen && info.flags&model.FlagSeen == 0 {
			mb.mu.Lock()
			if m := mb.byUID[uid]; m != nil {
				if err := mb.setFlagsLocked(m, m.flags|model.FlagSeen); err != nil && !isNotExist(err) {
					s.srv.log.Printf("serve: set \\Seen on %d in %q: %v", uid, mb.name, err)
				}
				info.flags, info.kw, info.modSeq = m.flags, m.kw, m.modSeq
			}
			mb.mu.Unlock()
			sendFlags = true
		}
		var flagList []imap.Flag
		if sendFlags {
			s.view[i].flags, s.view[i].kw = info.flags, info.kw
			flagList = mb.flagList(info.flags, info.kw, s.view[i].recent)
		}
		// MODSEQ when asked for, or (CONDSTORE in use) when this FETCH
		// changed the flags (\Seen), as Dovecot does.
		withModSeq := options.ModSeq || (s.condStore && sendFlags && !options.Flags)
		if err := writeFetch(w.CreateMessage(uint32(i+1)), info, data, flagList, withModSeq, options); err != nil {
			return err
		}
	}
	return nil
}

func writeFetch(w *imapserver.FetchResponseWriter, info msgInfo, data []byte, flags []imap.Flag, modSeq bool, options *imap.FetchOptions) error {
	w.WriteUID(info.uid)
	if flags != nil {
		w.WriteFlags(flags)
	}
	if modSeq {
		w.WriteModSeq(info.modSeq)
	}
	if options.InternalDate {
		w.WriteInternalDate(info.mtime)
	}
	if options.RFC822Size {
		w.WriteRFC822Size(info.size)
	}
	if options.Envelope {
		w.WriteEnvelope(envelope(data))
	}
	if options.BodyStructure != nil {
		w.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(data)))
	}
	for _, bs := range options.BodySection {
		// A literal may not hold NUL (RFC 3501 4.3): like Dovecot, send
		// 0x80 in its place; BINARY[] gives the real bytes.
		b := noNUL(bodySection(data, bs))
		wc := w.WriteBodySection(bs, int64(len(b)))
		_, err := wc.Write(b)
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for _, bs := range options.BinarySection {
		b := imapserver.ExtractBinarySection(bytes.NewReader(data), bs)
		wc := w.WriteBinarySection(bs, int64(len(b)))
		_, err := wc.Write(b)
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		w.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(data), bss))
	}
	return w.Close()
}

// bodySection returns a BODY[...] section. The whole message, its
// header and its text are cut from the bytes as they are, so that they
// are byte-exact whatever the header holds (go-imap's
// ExtractBodySection re-serialises the header and gives nothing for a
// header it cannot parse); everything else goes to ExtractBodySection.
func bodySection(data []byte, bs *imap.FetchItemBodySection) []byte {
	if len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0 {
		var b []byte
		switch bs.Specifier {
		case imap.PartSpecifierNone:
			b = data
		case imap.PartSpecifierHeader:
			b = model.HeaderBlock(data)
		case imap.PartSpecifierText:
			b = data[len(model.HeaderBlock(data)):]
		}
		if b != nil || bs.Specifier != imap.PartSpecifierMIME {
			return partial(b, bs.Partial)
		}
	}
	return imapserver.ExtractBodySection(bytes.NewReader(data), bs)
}

func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) {
		return []byte{}
	}
	end := p.Offset + p.Size
	if end > int64(len(b)) || end < p.Offset {
		end = int64(len(b))
	}
	return b[p.Offset:end]
}

// noNUL returns b with every NUL byte replaced by 0x80 (a copy only when
// there is one).
func noNUL(b []byte) []byte {
	if bytes.IndexByte(b, 0) < 0 {
		return b
	}
	out := bytes.Clone(b)
	for i, c := range out {
		if c == 0 {
			out[i] = 0x80
		}
	}
	return out
}
