package serve

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailsync/mailsync/model"
)

// LIST and LSUB, with LIST-EXTENDED's selection and return options, as
// Dovecot answers them.

// specialUse maps well-known folder names (the last level of a top-level
// folder or of a folder directly under INBOX, case-insensitively) to
// their RFC 6154 attribute.
var specialUse = map[string]imap.MailboxAttr{
	"sent": imap.MailboxAttrSent, "sent messages": imap.MailboxAttrSent, "sent items": imap.MailboxAttrSent,
	"sent mail": imap.MailboxAttrSent, "outbox sent": imap.MailboxAttrSent,
	"drafts": imap.MailboxAttrDrafts, "draft": imap.MailboxAttrDrafts,
	"trash": imap.MailboxAttrTrash, "deleted items": imap.MailboxAttrTrash, "deleted messages": imap.MailboxAttrTrash,
	"deleted": imap.MailboxAttrTrash, "bin": imap.MailboxAttrTrash,
	"junk": imap.MailboxAttrJunk, "spam": imap.MailboxAttrJunk, "junk e-mail": imap.MailboxAttrJunk,
	"junk email": imap.MailboxAttrJunk, "bulk mail": imap.MailboxAttrJunk,
	"archive": imap.MailboxAttrArchive, "archives": imap.MailboxAttrArchive,
}

func specialUseOf(name string) imap.MailboxAttr {
	levels := strings.Split(name, "/")
	if len(levels) == 2 && levels[0] == model.Inbox {
		levels = levels[1:]
	}
	if len(levels) != 1 {
		return ""
	}
	return specialUse[strings.ToLower(levels[0])]
}

// listState is what LIST needs to know of the tree.
type listState struct {
	exists      map[string]bool // folders on disk
	hasChildren map[string]bool // names with a folder below them
	subs        map[string]bool // subscriptions
}

func (ls *listState) subscribedBelow(n string) []string {
	var out []string
	for sub := range ls.subs {
		if strings.HasPrefix(sub, n+"/") {
			out = append(out, sub)
		}
	}
	return out
}

func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if p != "" && imapserver.MatchList(name, '/', ref, p) {
			return true
		}
	}
	return false
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 && !options.SelectSubscribed {
		// LIST "" "": go-imap drops empty patterns, so this is how the
		// RFC 3501 request for the delimiter and root arrives.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/', Mailbox: ""})
	}
	folders, err := s.srv.md.Folders()
	if err != nil {
		return err
	}
	subs, err := s.srv.idx.subscriptions()
	if err != nil {
		return err
	}
	ls := &listState{exists: make(map[string]bool), hasChildren: make(map[string]bool), subs: subs}
	names := make(map[string]bool)
	for _, n := range folders {
		ls.exists[n] = true
		names[n] = true
		for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
			names[n[:i]] = true
			ls.hasChildren[n[:i]] = true
		}
	}
	if options.SelectSubscribed {
		return s.listSubscribed(w, ref, patterns, options, ls)
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if !matchAny(n, ref, patterns) {
			continue
		}
		su := specialUseOf(n)
		if options.SelectSpecialUse && (su == "" || !ls.exists[n]) {
			continue
		}
		data := &imap.ListData{Mailbox: n, Delim: '/'}
		if !ls.exists[n] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		}
		data.Attrs = append(data.Attrs, childAttr(ls.hasChildren[n]))
		if subs[n] && options.ReturnSubscribed {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if su != "" && ls.exists[n] {
			data.Attrs = append(data.Attrs, su)
		}
		if options.ReturnStatus != nil && ls.exists[n] {
			if st, err := s.status(n, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

func childAttr(has bool) imap.MailboxAttr {
	if has {
		return imap.MailboxAttrHasChildren
	}
	return imap.MailboxAttrHasNoChildren
}

// listSubscribed answers LSUB (SelectSubscribed without
// ReturnSubscribed: go-imap sets ReturnSubscribed for every LIST
// (SUBSCRIBED)) and LIST (SUBSCRIBED [RECURSIVEMATCH]). A subscribed name
// is listed whether or not its folder exists (LIST marks a missing one
// \NonExistent); an unsubscribed parent of subscribed folders is listed
// when the pattern matches it but not them: LSUB marks it \Noselect,
// RECURSIVEMATCH gives it CHILDINFO ("SUBSCRIBED").
func (s *session) listSubscribed(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions, ls *listState) error {
	lsub := !options.ReturnSubscribed
	parents := lsub || options.SelectRecursiveMatch
	cands := make(map[string]bool)
	for n := range ls.subs {
		cands[n] = true
		if parents {
			for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
				cands[n[:i]] = true
			}
		}
	}
	sorted := make([]string, 0, len(cands))
	for n := range cands {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if !matchAny(n, ref, patterns) {
			continue
		}
		// Subscribed descendants the patterns do not reach themselves.
		hidden := false
		if parents {
			for _, d := range ls.subscribedBelow(n) {
				if !matchAny(d, ref, patterns) {
					hidden = true
					break
				}
			}
		}
		data := &imap.ListData{Mailbox: n, Delim: '/'}
		switch {
		case ls.subs[n]:
			if !lsub {
				data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
				if !ls.exists[n] && !ls.hasChildren[n] {
					data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
				} else if !ls.exists[n] {
					data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
				}
			}
		case hidden && lsub:
			data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
		case hidden:
			if !ls.exists[n] {
				data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
			}
		default:
			continue
		}
		if hidden && options.SelectRecursiveMatch {
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if options.ReturnChildren {
			data.Attrs = append(data.Attrs, childAttr(ls.hasChildren[n]))
		}
		if options.ReturnStatus != nil && ls.exists[n] {
			if st, err := s.status(n, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}
