package serve

import (
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// Keywords are stored the way Dovecot stores them (package maildir's
// Keywords: a dovecot-keywords file per folder, letters a-z in the file
// names), so serve, sync, Dovecot and mail readers using Dovecot's
// convention agree on them.

// flagRecent is the \Recent flag, which is per session and never stored.
const flagRecent = imap.Flag(`\Recent`)

type kwStamp struct {
	mtime time.Time
	size  int64
}

// loadKeywordsLocked rereads the folder's keyword map when its file
// changed since it was last read.
func (mb *mailbox) loadKeywordsLocked() error {
	mt, size := mb.folder.KeywordsStamp()
	st := kwStamp{mt, size}
	if mb.kw != nil && st == mb.kwStamp {
		return nil
	}
	k, err := mb.folder.Keywords()
	if err != nil {
		return err
	}
	if mb.kw != nil && strings.Join(mb.kw.All(), " ") != strings.Join(k.All(), " ") {
		mb.notifyLocked()
	}
	mb.kw, mb.kwStamp = k, st
	return nil
}

// addKeywordsLocked makes sure the folder's map names every keyword of
// names and returns their letters.
func (mb *mailbox) addKeywordsLocked(names []string) (string, error) {
	letters, missing := mb.kw.LettersOf(names)
	if len(missing) == 0 {
		return letters, nil
	}
	k, err := mb.folder.AddKeywords(missing...)
	if k != nil {
		mb.kw = k
		mt, size := mb.folder.KeywordsStamp()
		mb.kwStamp = kwStamp{mt, size}
		mb.notifyLocked()
	}
	if err != nil && !errors.Is(err, maildir.ErrTooManyKeywords) {
		return "", err
	}
	letters, _ = mb.kw.LettersOf(names)
	return letters, err
}

// keywordNames returns the folder's keyword names (for FLAGS and
// PERMANENTFLAGS).
func (mb *mailbox) keywordNames() []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.kw == nil {
		return nil
	}
	return mb.kw.All()
}

// flagList is the FLAGS of a message as a client sees it: the standard
// flags, the names of its keyword letters and \Recent.
func (mb *mailbox) flagList(f model.Flags, kw string, recent bool) []imap.Flag {
	out := imapFlags(f)
	mb.mu.Lock()
	k := mb.kw
	mb.mu.Unlock()
	if k != nil {
		for _, n := range k.NamesOf(kw) {
			out = append(out, imap.Flag(n))
		}
	}
	if recent {
		out = append(out, flagRecent)
	}
	return out
}

// splitFlags separates IMAP flags into the standard ones and keyword
// names; \Recent and other system flags serve does not store are
// dropped. An unparenthesised NIL (STORE +FLAGS NIL) is the keyword
// "NIL", as Dovecot takes it: the other flags are kept.
func splitFlags(flags []imap.Flag) (model.Flags, []string) {
	var std []string
	var kws []string
	for _, f := range flags {
		s := string(f)
		if model.FlagsFromIMAP([]string{s}) != 0 {
			std = append(std, s)
			continue
		}
		if strings.HasPrefix(s, `\`) || s == "" {
			continue
		}
		kws = append(kws, s)
	}
	return model.FlagsFromIMAP(std), kws
}

// mailboxFlags is FLAGS for a selected folder: the standard flags and
// the folder's keywords.
func mailboxFlags(keywords []string) []imap.Flag {
	out := allFlags()
	for _, k := range keywords {
		out = append(out, imap.Flag(k))
	}
	return out
}

// letterUnion and letterMinus work on sorted keyword letter strings.
func letterUnion(a, b string) string {
	var out []byte
	for c := byte('a'); c <= 'z'; c++ {
		if strings.IndexByte(a, c) >= 0 || strings.IndexByte(b, c) >= 0 {
			out = append(out, c)
		}
	}
	return string(out)
}

func letterMinus(a, b string) string {
	var out []byte
	for i := 0; i < len(a); i++ {
		if strings.IndexByte(b, a[i]) < 0 {
			out = append(out, a[i])
		}
	}
	return string(out)
}

// keywordNamesOf returns the names of keyword letters in this folder.
func (mb *mailbox) keywordNamesOf(letters string) []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.kw == nil {
		return nil
	}
	return mb.kw.NamesOf(letters)
}
