package serve

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// Address lists are parsed here rather than with net/mail (which
// go-imap's ExtractEnvelope uses): net/mail flattens groups, drops empty
// ones, and rejects an obsolete route (<@route:user@domain>) and
// comments inside an address, turning the whole field into NIL. This
// parser follows RFC 5322 with its obsolete forms, as Dovecot does:
// comments are removed, a group gives a start marker (NIL NIL "name"
// NIL), its members and an end marker (NIL NIL NIL NIL), and a route is
// dropped (go-imap's Address has no field for it; RFC 5322 4.4 says it
// is to be ignored).

// envelope returns the ENVELOPE of a message (CRLF bytes).
func envelope(data []byte) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		h = textproto.Header{}
	}
	env := imapserver.ExtractEnvelope(h)
	if env == nil {
		env = &imap.Envelope{}
	}
	field := func(k string) ([]imap.Address, bool) {
		if !h.Has(k) {
			return nil, false
		}
		return parseAddressList(h.Get(k)), true
	}
	env.From, _ = field("From")
	env.To, _ = field("To")
	env.Cc, _ = field("Cc")
	env.Bcc, _ = field("Bcc")
	if l, ok := field("Sender"); ok && len(l) > 0 {
		env.Sender = l
	} else {
		env.Sender = env.From
	}
	if l, ok := field("Reply-To"); ok && len(l) > 0 {
		env.ReplyTo = l
	} else {
		env.ReplyTo = env.From
	}
	return env
}

// stripComments removes RFC 5322 comments (nested, with quoted pairs)
// outside quoted strings and domain literals, leaving a space.
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	inQuote, inLiteral := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (inQuote || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case depth > 0:
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
				if depth == 0 {
					b.WriteByte(' ')
				}
			}
		case inQuote:
			b.WriteByte(c)
			if c == '"' {
				inQuote = false
			}
		case inLiteral:
			b.WriteByte(c)
			if c == ']' {
				inLiteral = false
			}
		case c == '"':
			inQuote = true
			b.WriteByte(c)
		case c == '[':
			inLiteral = true
			b.WriteByte(c)
		case c == '(':
			depth = 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitTop splits s at the top-level (outside quotes, <> and []) bytes
// in seps, returning the pieces and the separator that ended each (0 at
// the end).
func nextTop(s string, seps string) (int, byte) {
	inQuote, angle, literal := false, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote:
			i++
		case inQuote:
			if c == '"' {
				inQuote = false
			}
		case literal:
			if c == ']' {
				literal = false
			}
		case c == '"':
			inQuote = true
		case c == '[':
			literal = true
		case c == '<':
			angle++
		case c == '>':
			if angle > 0 {
				angle--
			}
		case angle == 0 && strings.IndexByte(seps, c) >= 0:
			return i, c
		}
	}
	return len(s), 0
}

// parseAddressList parses an address list header value.
func parseAddressList(v string) []imap.Address {
	s := stripComments(v)
	var out []imap.Address
	for len(strings.TrimSpace(s)) > 0 {
		i, sep := nextTop(s, ",:;")
		item := s[:i]
		if sep == ':' {
			// A group: name ":" [mailbox-list] ";"
			out = append(out, imap.Address{Mailbox: phrase(item)})
			rest := s[i+1:]
			j, _ := nextTop(rest, ";")
			for _, m := range splitMailboxes(rest[:j]) {
				out = append(out, m)
			}
			out = append(out, imap.Address{})
			if j < len(rest) {
				j++
			}
			s = rest[j:]
			continue
		}
		if a, ok := parseMailbox(item); ok {
			out = append(out, a)
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

func splitMailboxes(s string) []imap.Address {
	var out []imap.Address
	for len(s) > 0 {
		i, _ := nextTop(s, ",")
		if a, ok := parseMailbox(s[:i]); ok {
			out = append(out, a)
		}
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// parseMailbox parses "name <addr>", "<addr>", "<@route:addr>" or a bare
// addr-spec (comments already removed).
func parseMailbox(s string) (imap.Address, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return imap.Address{}, false
	}
	var a imap.Address
	spec := s
	if lt := strings.LastIndexByte(s, '<'); lt >= 0 {
		if j, _ := nextTop(s, "<"); j < len(s) {
			lt = j
		}
		a.Name = phrase(s[:lt])
		spec = s[lt+1:]
		if gt := strings.IndexByte(spec, '>'); gt >= 0 {
			spec = spec[:gt]
		}
		// An obsolete route "@a,@b:" before the address is dropped.
		if strings.HasPrefix(strings.TrimSpace(spec), "@") {
			if c := strings.IndexByte(spec, ':'); c >= 0 {
				spec = spec[c+1:]
			}
		}
	}
	spec = removeSpaces(spec)
	at := strings.LastIndexByte(spec, '@')
	if at < 0 {
		a.Mailbox = unquote(spec)
		return a, a.Mailbox != "" || a.Name != ""
	}
	a.Mailbox, a.Host = unquote(spec[:at]), spec[at+1:]
	return a, true
}

// removeSpaces drops white space outside quoted strings (an addr-spec
// may have folding white space around its dots and @).
func removeSpaces(s string) string {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
			continue
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unquote removes the quotes of a quoted local part if it is one whole
// quoted string.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return unescape(s[1 : len(s)-1])
	}
	return s
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// phrase decodes a display name: quoted strings unquoted, RFC 2047
// words decoded, white space collapsed.
func phrase(s string) string {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
		default:
			b.WriteByte(c)
		}
	}
	return decodeHeaderValue(strings.Join(strings.Fields(b.String()), " "))
}

// addressStrings returns the addresses of a header value in the forms
// SEARCH FROM/TO/CC/BCC matches against ("Name <user@host>", group
// names), as Dovecot does: comments are not searched.
func addressStrings(v string) []string {
	var out []string
	for _, a := range parseAddressList(v) {
		switch {
		case a.Host != "":
			s := a.Mailbox + "@" + a.Host
			if a.Name != "" {
				s = a.Name + " <" + s + ">"
			}
			out = append(out, s)
		case a.Mailbox != "":
			out = append(out, a.Mailbox)
		}
	}
	return out
}
