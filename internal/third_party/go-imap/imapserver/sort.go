package imapserver

// mailsync patch 9: SORT and THREAD (RFC 5256), for sessions that
// implement SessionSort and servers whose Options.Caps has SORT or
// THREAD=...

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SortCriterion is one SORT key, possibly reversed: ARRIVAL, CC, DATE,
// FROM, SIZE, SUBJECT or TO (upper case).
type SortCriterion struct {
	Key     string
	Reverse bool
}

// ThreadNode is one node of a THREAD answer: a message (Num, a sequence
// number or UID) or, with Num 0, a dummy parent; Children in order.
type ThreadNode struct {
	Num      uint32
	Children []*ThreadNode
}

// SessionSort is a Session with SORT and THREAD. Sort returns the
// numbers (sequence numbers or UIDs, per kind) of the messages matching
// search, in the order of criteria; Thread returns the threads of the
// matching messages by algorithm ("ORDEREDSUBJECT", "REFERENCES").
type SessionSort interface {
	Session
	Sort(kind NumKind, criteria []SortCriterion, search *imap.SearchCriteria) ([]uint32, error)
	Thread(kind NumKind, algorithm imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]*ThreadNode, error)
}

func (c *Conn) sortSession() (SessionSort, error) {
	s, ok := c.session.(SessionSort)
	if !ok {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	return s, nil
}

func (c *Conn) handleSort(dec *imapwire.Decoder, numKind NumKind) error {
	s, err := c.sortSession()
	if err != nil {
		return err
	}
	if !c.server.options.caps().Has(imap.CapSort) {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	var criteria []SortCriterion
	if !dec.ExpectSP() {
		return dec.Err()
	}
	reverse := false
	err = dec.ExpectList(func() error {
		var key string
		if !dec.ExpectAtom(&key) {
			return dec.Err()
		}
		key = strings.ToUpper(key)
		switch key {
		case "REVERSE":
			reverse = true
			return nil
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO":
			criteria = append(criteria, SortCriterion{Key: key, Reverse: reverse})
			reverse = false
			return nil
		}
		return newClientBugError("Unknown SORT key")
	})
	if err != nil {
		return err
	}
	if reverse || len(criteria) == 0 {
		return newClientBugError("Invalid SORT criteria")
	}
	search, err := readCharsetAndSearch(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	nums, err := s.Sort(numKind, criteria, search)
	if err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("SORT")
	for _, n := range nums {
		enc.SP().Number(n)
	}
	return enc.CRLF()
}

func (c *Conn) handleThread(dec *imapwire.Decoder, numKind NumKind) error {
	s, err := c.sortSession()
	if err != nil {
		return err
	}
	var algo string
	if !dec.ExpectSP() || !dec.ExpectAtom(&algo) {
		return dec.Err()
	}
	algorithm := imap.ThreadAlgorithm(strings.ToUpper(algo))
	if !c.server.options.caps().Has(imap.Cap("THREAD=" + string(algorithm))) {
		return newClientBugError("Unknown THREAD algorithm")
	}
	search, err := readCharsetAndSearch(dec)
	if err != nil {
		return err
	}
	if err := c.checkState(imap.ConnStateSelected); err != nil {
		return err
	}
	threads, err := s.Thread(numKind, algorithm, search)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, t := range threads {
		b.WriteByte('(')
		writeThreadChain(&b, t)
		b.WriteByte(')')
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("THREAD")
	if b.Len() > 0 {
		enc.SP().Atom(b.String())
	}
	return enc.CRLF()
}

// writeThreadChain writes a node and its descendants: a single child
// continues the chain ("1 2 3"), several are each parenthesised
// ("1 (2)(3 4)").
func writeThreadChain(b *strings.Builder, n *ThreadNode) {
	if n.Num != 0 {
		fmt.Fprintf(b, "%d", n.Num)
		if len(n.Children) > 0 {
			b.WriteByte(' ')
		}
	}
	if len(n.Children) == 1 && n.Num != 0 {
		writeThreadChain(b, n.Children[0])
		return
	}
	for _, ch := range n.Children {
		b.WriteByte('(')
		writeThreadChain(b, ch)
		b.WriteByte(')')
	}
}

// readCharsetAndSearch reads " charset search-key..." and the CRLF.
func readCharsetAndSearch(dec *imapwire.Decoder) (*imap.SearchCriteria, error) {
	var charset string
	if !dec.ExpectSP() || !dec.ExpectAString(&charset) || !dec.ExpectSP() {
		return nil, dec.Err()
	}
	switch strings.ToUpper(charset) {
	case "US-ASCII", "UTF-8":
	default:
		return nil, &imap.Error{
			Type: imap.StatusResponseTypeNo,
			Code: imap.ResponseCodeBadCharset,
			Text: "Only US-ASCII and UTF-8 are supported charsets",
		}
	}
	var criteria imap.SearchCriteria
	for {
		if err := readSearchKey(&criteria, dec); err != nil {
			return nil, fmt.Errorf("in search-key: %w", err)
		}
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectCRLF() {
		return nil, dec.Err()
	}
	return &criteria, nil
}
