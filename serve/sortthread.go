package serve

// SORT and THREAD (RFC 5256): the matching messages come from the SEARCH
// matcher; ordering and threading use the header fields as RFC 5256
// defines them (base subject, sent date falling back to INTERNALDATE,
// first address's mailbox).

import (
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/mail"
)

var _ imapserver.SessionSort = (*session)(nil)

// matching returns the messages of the view that match criteria, in
// sequence order. The caller holds s.mu.
func (s *session) matching(criteria *imap.SearchCriteria) ([]*searchMsg, error) {
	if s.sel == nil {
		return nil, errNo("", "no mailbox selected")
	}
	s.staticCriteria(criteria)
	mb := s.sel
	var out []*searchMsg
	for i, v := range s.view {
		info, ok := mb.lookup(v.uid)
		if !ok {
			continue
		}
		m := &searchMsg{
			seq:    uint32(i + 1),
			uid:    v.uid,
			flags:  info.flags,
			kw:     mb.flagList(0, info.kw, false),
			recent: v.recent,
			date:   info.mtime,
			size:   info.size,
			load:   func() ([]byte, error) { return mb.read(info) },
		}
		if matchSearch(m, criteria) {
			out = append(out, m)
		}
	}
	return out, nil
}

func num(kind imapserver.NumKind, m *searchMsg) uint32 {
	if kind == imapserver.NumKindUID {
		return uint32(m.uid)
	}
	return m.seq
}

func (m *searchMsg) field(k string) string {
	m.content()
	if m.header == nil {
		return ""
	}
	return m.header.Get(k)
}

// sentDate is the Date header, or INTERNALDATE when it has none that
// parses (RFC 5256 2.2).
func (m *searchMsg) sentDate() time.Time {
	m.content()
	if m.header != nil {
		if t, err := (&mail.Header{Header: *m.header}).Date(); err == nil && !t.IsZero() {
			return t
		}
	}
	return m.date
}

// firstMailbox is the mailbox part of the first address of field k,
// lower-cased (RFC 5256 SORT FROM/TO/CC).
func (m *searchMsg) firstMailbox(k string) string {
	for _, a := range parseAddressList(m.field(k)) {
		if a.Host != "" {
			return strings.ToLower(a.Mailbox)
		}
	}
	return ""
}

func (s *session) Sort(kind imapserver.NumKind, criteria []imapserver.SortCriterion, search *imap.SearchCriteria) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs, err := s.matching(search)
	if err != nil {
		return nil, err
	}
	cmp := func(a, b *searchMsg, key string) int {
		switch key {
		case "ARRIVAL":
			return a.date.Compare(b.date)
		case "DATE":
			return a.sentDate().Compare(b.sentDate())
		case "SIZE":
			return compare(a.rfc822Size(), b.rfc822Size())
		case "SUBJECT":
			return strings.Compare(baseSubject(a.field("Subject")), baseSubject(b.field("Subject")))
		case "FROM", "TO", "CC":
			k := map[string]string{"FROM": "From", "TO": "To", "CC": "Cc"}[key]
			return strings.Compare(a.firstMailbox(k), b.firstMailbox(k))
		}
		return 0
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		for _, c := range criteria {
			r := cmp(msgs[i], msgs[j], c.Key)
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r < 0
			}
		}
		return msgs[i].seq < msgs[j].seq
	})
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		out[i] = num(kind, m)
	}
	return out, nil
}

func compare[T int64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// baseSubject is RFC 5256 2.1's base subject: decoded, white space
// collapsed, "(fwd)" trailers, "Re:"/"Fw:"/"Fwd:" and "[blob]" prefixes
// and "[fwd: ...]" wrappers removed, lower-cased for comparison.
func baseSubject(s string) string {
	b, _ := baseSubjectReply(s)
	return b
}

// baseSubjectReply is baseSubject, also telling whether a reply or
// forward marker (not a mere [blob]) was removed.
func baseSubjectReply(s string) (string, bool) {
	reply := false
	s = strings.Join(strings.Fields(decodeHeaderValue(s)), " ")
	for {
		changed := false
		for {
			t := strings.TrimSpace(s)
			if strings.HasSuffix(strings.ToLower(t), "(fwd)") {
				s = strings.TrimSpace(t[:len(t)-5])
				reply = true
				continue
			}
			s = t
			break
		}
		for {
			t, refwd := stripSubjLeader(s)
			if t == s {
				break
			}
			s, changed, reply = t, true, reply || refwd
		}
		low := strings.ToLower(s)
		if strings.HasPrefix(low, "[fwd:") && strings.HasSuffix(s, "]") {
			s = strings.TrimSpace(s[5 : len(s)-1])
			changed, reply = true, true
		}
		if !changed {
			break
		}
	}
	return strings.ToLower(s), reply
}

// stripSubjLeader removes one subj-blob ("[...]" when something follows)
// or subj-refwd ("re", "fw", "fwd" with optional [blob], then ":").
func stripSubjLeader(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	low := strings.ToLower(s)
	for _, p := range []string{"re", "fwd", "fw"} {
		if !strings.HasPrefix(low, p) {
			continue
		}
		rest := s[len(p):]
		rest = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(rest, "[") {
			if j := strings.IndexByte(rest, ']'); j > 0 {
				rest = strings.TrimLeft(rest[j+1:], " \t")
			}
		}
		if strings.HasPrefix(rest, ":") {
			return strings.TrimLeft(rest[1:], " \t"), true
		}
	}
	if strings.HasPrefix(s, "[") {
		if j := strings.IndexByte(s, ']'); j > 0 {
			if rest := strings.TrimSpace(s[j+1:]); rest != "" {
				return rest, false
			}
		}
	}
	return s, false
}

func (s *session) Thread(kind imapserver.NumKind, algorithm imap.ThreadAlgorithm, search *imap.SearchCriteria) ([]*imapserver.ThreadNode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs, err := s.matching(search)
	if err != nil {
		return nil, err
	}
	if algorithm == imap.ThreadOrderedSubject {
		return orderedSubject(kind, msgs), nil
	}
	return references(kind, msgs), nil
}

// byDate orders by sent date, then sequence number (RFC 5256).
func byDate(msgs []*searchMsg) {
	sort.SliceStable(msgs, func(i, j int) bool {
		if c := msgs[i].sentDate().Compare(msgs[j].sentDate()); c != 0 {
			return c < 0
		}
		return msgs[i].seq < msgs[j].seq
	})
}

// orderedSubject: threads of equal base subject, each sorted by sent
// date, the first message the parent of the others; threads ordered by
// their first message's date.
func orderedSubject(kind imapserver.NumKind, msgs []*searchMsg) []*imapserver.ThreadNode {
	sorted := append([]*searchMsg(nil), msgs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := baseSubject(sorted[i].field("Subject")), baseSubject(sorted[j].field("Subject"))
		if a != b {
			return a < b
		}
		if c := sorted[i].sentDate().Compare(sorted[j].sentDate()); c != 0 {
			return c < 0
		}
		return sorted[i].seq < sorted[j].seq
	})
	type thread struct {
		node  *imapserver.ThreadNode
		first *searchMsg
	}
	var threads []thread
	var cur string
	for i, m := range sorted {
		subj := baseSubject(m.field("Subject"))
		if i == 0 || subj != cur {
			threads = append(threads, thread{node: &imapserver.ThreadNode{Num: num(kind, m)}, first: m})
			cur = subj
			continue
		}
		t := threads[len(threads)-1].node
		t.Children = append(t.Children, &imapserver.ThreadNode{Num: num(kind, m)})
	}
	sort.SliceStable(threads, func(i, j int) bool {
		if c := threads[i].first.sentDate().Compare(threads[j].first.sentDate()); c != 0 {
			return c < 0
		}
		return threads[i].first.seq < threads[j].first.seq
	})
	out := make([]*imapserver.ThreadNode, len(threads))
	for i, t := range threads {
		out[i] = t.node
	}
	return out
}

// container is a node of the REFERENCES algorithm; msg is nil for a
// dummy.
type container struct {
	msg      *searchMsg
	parent   *container
	children []*container
}

func (c *container) isAncestorOf(d *container) bool {
	for p := d; p != nil; p = p.parent {
		if p == c {
			return true
		}
	}
	return false
}

func (c *container) unlink() {
	if p := c.parent; p != nil {
		for i, ch := range p.children {
			if ch == c {
				p.children = append(p.children[:i:i], p.children[i+1:]...)
				break
			}
		}
		c.parent = nil
	}
}

func (c *container) adopt(ch *container) {
	ch.unlink()
	ch.parent = c
	c.children = append(c.children, ch)
}

// date is the message's sent date, or a dummy's earliest child's.
func (c *container) date() (time.Time, uint32) {
	if c.msg != nil {
		return c.msg.sentDate(), c.msg.seq
	}
	var best time.Time
	var seq uint32
	for _, ch := range c.children {
		if t, s := ch.date(); seq == 0 || t.Before(best) || (t.Equal(best) && s < seq) {
			best, seq = t, s
		}
	}
	return best, seq
}

func sortByDate(cs []*container) {
	sort.SliceStable(cs, func(i, j int) bool {
		ti, si := cs[i].date()
		tj, sj := cs[j].date()
		if c := ti.Compare(tj); c != 0 {
			return c < 0
		}
		return si < sj
	})
}

// msgIDs returns the message ids in a References or In-Reply-To value.
func msgIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
}

// references is RFC 5256's REFERENCES algorithm.
func references(kind imapserver.NumKind, msgs []*searchMsg) []*imapserver.ThreadNode {
	ids := make(map[string]*container)
	var all []*container
	get := func(id string) *container {
		c := ids[id]
		if c == nil {
			c = &container{}
			ids[id] = c
			all = append(all, c)
		}
		return c
	}
	for _, m := range msgs {
		ownIDs := msgIDs(m.field("Message-ID"))
		var self *container
		if len(ownIDs) > 0 && (ids[ownIDs[0]] == nil || ids[ownIDs[0]].msg == nil) {
			self = get(ownIDs[0])
		} else {
			self = &container{} // no or a duplicate Message-ID: unique
			all = append(all, self)
		}
		self.msg = m
		refs := msgIDs(m.field("References"))
		if len(refs) == 0 {
			if irt := msgIDs(m.field("In-Reply-To")); len(irt) > 0 {
				refs = irt[:1]
			}
		}
		var prev *container
		for _, id := range refs {
			c := get(id)
			if prev != nil && c.parent == nil && !c.isAncestorOf(prev) {
				prev.adopt(c)
			}
			prev = c
		}
		if prev != nil && !self.isAncestorOf(prev) {
			prev.adopt(self)
		} else if prev == nil {
			self.unlink()
		}
	}
	var roots []*container
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	roots = prune(roots, true)
	sortByDate(roots)

	// Group the roots by base subject.
	subjectOf := func(c *container) (string, bool) {
		m := c.msg
		if m == nil && len(c.children) > 0 {
			m = c.children[0].msg
		}
		if m == nil {
			return "", false
		}
		return baseSubjectReply(m.field("Subject"))
	}
	table := make(map[string]*container)
	for _, c := range roots {
		subj, reply := subjectOf(c)
		if subj == "" {
			continue
		}
		old := table[subj]
		if old == nil || (old.msg != nil && c.msg == nil) {
			table[subj] = c
			continue
		}
		if _, oldReply := subjectOf(old); old.msg != nil && c.msg != nil && oldReply && !reply {
			table[subj] = c
		}
	}
	var kept []*container
	for _, c := range roots {
		subj, reply := subjectOf(c)
		t := table[subj]
		if subj == "" || t == nil || t == c {
			kept = append(kept, c)
			continue
		}
		_, tReply := subjectOf(t)
		switch {
		case t.msg == nil && c.msg == nil:
			for _, ch := range append([]*container(nil), c.children...) {
				t.adopt(ch)
			}
		case t.msg == nil:
			t.adopt(c)
		case c.msg == nil:
			// A dummy that is not in the table: keep it, the table's
			// message joins it.
			kept = append(kept, c)
		case tReply && !reply:
			c.adopt(t)
			table[subj] = c
			kept = append(kept, c)
		case reply && !tReply:
			t.adopt(c)
		default:
			d := &container{}
			for i, k := range kept {
				if k == t {
					kept[i] = d
				}
			}
			d.adopt(t)
			d.adopt(c)
			table[subj] = d
		}
	}
	// Drop the roots that were moved under another.
	roots = roots[:0]
	for _, c := range kept {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	var sortAll func(cs []*container)
	sortAll = func(cs []*container) {
		for _, c := range cs {
			sortAll(c.children)
		}
		sortByDate(cs)
	}
	sortAll(roots)
	var conv func(c *container) *imapserver.ThreadNode
	conv = func(c *container) *imapserver.ThreadNode {
		n := &imapserver.ThreadNode{}
		if c.msg != nil {
			n.Num = num(kind, c.msg)
		}
		for _, ch := range c.children {
			n.Children = append(n.Children, conv(ch))
		}
		return n
	}
	out := make([]*imapserver.ThreadNode, len(roots))
	for i, c := range roots {
		out[i] = conv(c)
	}
	return out
}

// prune removes dummies without children and promotes the children of
// dummies, except a dummy at the root with more than one child.
func prune(cs []*container, root bool) []*container {
	var out []*container
	for _, c := range cs {
		c.children = prune(c.children, false)
		for _, ch := range c.children {
			ch.parent = c
		}
		if c.msg != nil {
			out = append(out, c)
			continue
		}
		switch {
		case len(c.children) == 0:
		case !root || len(c.children) == 1:
			for _, ch := range c.children {
				ch.parent = c.parent
				out = append(out, ch)
			}
		default:
			out = append(out, c)
		}
	}
	return out
}
