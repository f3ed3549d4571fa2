package imapserver

// mailsync patch 3: the ID command (RFC 2971).

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

func (c *Conn) handleID(dec *imapwire.Decoder) error {
	if !c.server.options.caps().Has(imap.CapID) {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"}
	}
	if !dec.ExpectSP() {
		return dec.Err()
	}
	// The client's parameters: NIL or a list of string/nstring pairs.
	// They are read and ignored.
	isList, err := dec.List(func() error {
		var key string
		if !dec.ExpectString(&key) || !dec.ExpectSP() {
			return dec.Err()
		}
		var value string
		if !dec.ExpectNString(&value) {
			return dec.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !isList && !dec.ExpectNIL() {
		return dec.Err()
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}

	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ID").SP()
	id := c.server.options.ID
	var fields [][2]string
	if id != nil {
		for _, kv := range [][2]string{
			{"name", id.Name}, {"version", id.Version}, {"os", id.OS},
			{"os-version", id.OSVersion}, {"vendor", id.Vendor},
			{"support-url", id.SupportURL}, {"address", id.Address},
			{"date", id.Date}, {"command", id.Command},
			{"arguments", id.Arguments}, {"environment", id.Environment},
		} {
			if kv[1] != "" {
				fields = append(fields, kv)
			}
		}
	}
	if len(fields) == 0 {
		enc.NIL()
	} else {
		enc.Special('(')
		for i, kv := range fields {
			if i > 0 {
				enc.SP()
			}
			enc.Quoted(kv[0]).SP().Quoted(kv[1])
		}
		enc.Special(')')
	}
	return enc.CRLF()
}

// maxUnknownPreAuth is how many unknown commands a connection may send
// before it has logged in (mailsync patch 2); Dovecot's limit is 10 too.
const maxUnknownPreAuth = 10
