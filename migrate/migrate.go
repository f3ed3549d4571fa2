// Package migrate copies every folder and message of one IMAP account to
// another, server to server (mailsync migrate FROM TO), with flags,
// keywords and INTERNALDATE.
//
// Contract: Run never copies a message the target already holds. It
// keeps no state: before copying, each folder pair is compared by
// content. Messages are matched by model.Fingerprint (RFC822.SIZE and a
// hash of the header block); when a fingerprint is not unique on either
// side, the candidates are compared by a SHA-256 of the whole message,
// and only the surplus copies on FROM are copied. So a rerun after an
// interruption (or after another tool filled part of the target) copies
// exactly what is missing; a message whose APPEND was in flight when the
// run stopped is found on the target by the rerun and not copied twice.
// FROM is only read (EXAMINE, BODY.PEEK); TO only gains folders and
// messages, nothing on it is changed or deleted.
//
// Folders map by name across hierarchy delimiters (imapconn's canonical
// "/" names) and personal namespace prefixes ("INBOX." on Courier and
// Cyrus: FROM's "INBOX/Work" is TO's "Work" when TO has none), special-use folders (\Sent, \Trash, \Junk, \Drafts,
// \Archive, \Flagged) map to the target's folder with the same attribute
// whatever its name, and Options.Map overrides both. Gmail's \All and
// \Important views are not copied as folders (their messages are in the
// other folders). Keywords are copied only where the target folder's
// PERMANENTFLAGS has `\*` (or lists the keyword); otherwise they are
// dropped and reported once per folder.
package migrate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/model"
)

// Progress receives the totals before any copy (Plan, once) and each
// copied message (Done). Called from Run's goroutine.
type Progress interface {
	Plan(msgs int, bytes int64)
	Done(msgs int, bytes int64)
}

// Options configure Run.
type Options struct {
	From, To imapconn.Options
	// Map maps FROM folder names (canonical, "/"-separated) to TO names,
	// overriding the name and special-use mapping.
	Map map[string]string
	// DryRun plans (connects, lists, compares) and changes nothing.
	DryRun bool
	// Progress, when set, is told the totals and each copied message.
	Progress Progress
	// Warnf receives warnings (keywords dropped); nil drops them.
	Warnf func(format string, args ...any)
}

// FolderPlan is one folder pair: what was there and what was (or, with
// DryRun, would be) copied.
type FolderPlan struct {
	From       string `json:"from"`
	To         string `json:"to"`
	SpecialUse string `json:"special_use,omitempty"`
	Create     bool   `json:"create,omitempty"` // TO lacks the folder
	Messages   int    `json:"messages"`         // on FROM
	Present    int    `json:"present"`          // already on TO
	Copy       int    `json:"copy"`             // to copy
	CopyBytes  int64  `json:"copy_bytes"`
	Copied     int    `json:"copied"`
	// FlagUpdates counts messages already on TO that lack some of
	// FROM's flags or keywords (added; none is ever removed).
	FlagUpdates int    `json:"flag_updates"`
	Bytes       int64  `json:"bytes"`
	Error       string `json:"error,omitempty"`

	toCopy  []imapconn.RawMsg
	matched []match
}

// Report is what Run did.
type Report struct {
	DryRun  bool         `json:"dry_run"`
	Folders []FolderPlan `json:"folders"`
	// Skipped names FROM folders not copied, with the reason.
	Skipped []string `json:"skipped,omitempty"`
	// Totals of the plan and of what was copied.
	Messages int   `json:"messages_to_copy"`
	Bytes    int64 `json:"bytes_to_copy"`
	Copied   int   `json:"copied"`
	CopiedB  int64 `json:"copied_bytes"`
	Present  int   `json:"already_present"`
	Created  int   `json:"folders_created"`
	Keywords int   `json:"keywords_dropped"`
}

// Run migrates opts.From to opts.To. It returns the report so far with
// any error (a cancelled context included); rerunning finishes the job.
func Run(ctx context.Context, opts Options) (*Report, error) {
	rep := &Report{DryRun: opts.DryRun}
	from, err := imapconn.Dial(ctx, opts.From)
	if err != nil {
		return rep, fmt.Errorf("connect to FROM: %w", err)
	}
	defer from.Close()
	to, err := imapconn.Dial(ctx, opts.To)
	if err != nil {
		return rep, fmt.Errorf("connect to TO: %w", err)
	}
	defer to.Close()

	fromFolders, unnamed, err := from.ListFolderAttrs(ctx)
	if err != nil {
		return rep, fmt.Errorf("FROM: %w", err)
	}
	toFolders, _, err := to.ListFolderAttrs(ctx)
	if err != nil {
		return rep, fmt.Errorf("TO: %w", err)
	}
	// The connections take each server's personal namespace prefix
	// ("INBOX." on Courier and Cyrus) out of the names they list and put
	// it back in the names they are given: names here have none.
	pairs, skipped, err := MapFolders(fromFolders, toFolders, "", "", opts.Map)
	if err != nil {
		return rep, err
	}
	rep.Skipped = append(unnamed, skipped...)

	// Plan every folder first, so that the totals are right.
	for _, p := range pairs {
		fp, err := planFolder(ctx, from, to, p)
		if err != nil {
			return rep, err
		}
		rep.Folders = append(rep.Folders, fp)
		rep.Messages += fp.Copy
		rep.Bytes += fp.CopyBytes
		rep.Present += fp.Present
	}
	if opts.DryRun {
		return rep, nil
	}
	if opts.Progress != nil {
		opts.Progress.Plan(rep.Messages, rep.Bytes)
	}
	failed := 0
	for i := range rep.Folders {
		if err := copyFolder(ctx, from, to, &rep.Folders[i], rep, opts); err != nil {
			if ctx.Err() != nil || imapconn.IsRetryable(err) {
				return rep, err
			}
			// A refusal of this folder (cannot create it, a message
			// refused): the other folders still go.
			rep.Folders[i].Error = err.Error()
			failed++
			if opts.Warnf != nil {
				opts.Warnf("%v", err)
			}
		}
	}
	if failed > 0 {
		return rep, &PartialError{Folders: failed}
	}
	return rep, nil
}

// PartialError is Run's error when some folders failed (each
// FolderPlan.Error says why, and Warnf was told) and the others were
// copied.
type PartialError struct{ Folders int }

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d folders failed (see above); the others were copied: fix the cause and run again", e.Folders)
}

// Pair is one FROM folder and the TO folder it goes to.
type Pair struct {
	From, To   string
	SpecialUse string
	Exists     bool // TO has it
}

// mapped special uses: the attributes by which a folder is found on the
// target whatever its name.
var mappedUses = []string{`\Sent`, `\Trash`, `\Junk`, `\Drafts`, `\Archive`, `\Flagged`}

// notCopied are the attributes of virtual views whose messages are in
// other folders.
var notCopied = []string{`\All`, `\Important`}

func hasAttr(attrs []string, a string) bool {
	return slices.ContainsFunc(attrs, func(x string) bool { return strings.EqualFold(x, a) })
}

func specialUse(attrs []string) string {
	for _, u := range mappedUses {
		if hasAttr(attrs, u) {
			return u
		}
	}
	return ""
}

// MapFolders decides where each FROM folder goes: override (by FROM
// name) first, then the TO folder with the same special use, then the
// same canonical name with FROM's personal namespace prefix (fromPrefix,
// canonical and ending in "/", or "") replaced by TO's. Non-selectable folders and Gmail's \All and
// \Important are skipped (reported in skipped). Two FROM folders mapped
// to one TO folder is an error naming both: the content comparison
// would merge them.
func MapFolders(from, to []imapconn.FolderAttrs, fromPrefix, toPrefix string, override map[string]string) (pairs []Pair, skipped []string, err error) {
	toByName := map[string]bool{}
	toByUse := map[string]string{}
	for _, f := range to {
		if hasAttr(f.Attrs, `\Noselect`) || hasAttr(f.Attrs, `\NonExistent`) {
			continue
		}
		toByName[f.Name] = true
		if u := specialUse(f.Attrs); u != "" {
			if _, ok := toByUse[u]; !ok {
				toByUse[u] = f.Name
			}
		}
	}
	for name := range override {
		if !slices.ContainsFunc(from, func(f imapconn.FolderAttrs) bool { return f.Name == name }) {
			return nil, nil, fmt.Errorf("folder map %q: FROM has no such folder (names are \"/\"-separated, e.g. \"Lists/go\")", name)
		}
	}
	used := map[string]string{}
	for _, f := range from {
		if hasAttr(f.Attrs, `\Noselect`) || hasAttr(f.Attrs, `\NonExistent`) {
			continue
		}
		p := Pair{From: f.Name, SpecialUse: specialUse(f.Attrs)}
		if dst, ok := override[f.Name]; ok {
			clean, err := model.CleanFolderName(dst)
			if err != nil {
				return nil, nil, fmt.Errorf("folder map %q=%q: %v", f.Name, dst, err)
			}
			p.To = clean
		} else {
			if v := slices.IndexFunc(notCopied, func(a string) bool { return hasAttr(f.Attrs, a) }); v >= 0 {
				skipped = append(skipped, fmt.Sprintf("%s: %s is a view of messages held in other folders", f.Name, notCopied[v]))
				continue
			}
			p.To = f.Name
			if !strings.EqualFold(f.Name, model.Inbox) {
				p.To = toPrefix + strings.TrimPrefix(f.Name, fromPrefix)
			}
			if dst, ok := toByUse[p.SpecialUse]; ok && p.SpecialUse != "" {
				p.To = dst
			}
		}
		if prev, ok := used[p.To]; ok {
			return nil, nil, fmt.Errorf("folders %q and %q both map to %q on TO: map one elsewhere with --map %q", prev, f.Name, p.To, f.Name+"=NEW")
		}
		used[p.To] = f.Name
		p.Exists = toByName[p.To]
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].From < pairs[j].From })
	return pairs, skipped, nil
}

// planFolder lists both sides of p and decides which FROM messages TO
// lacks.
func planFolder(ctx context.Context, from, to *imapconn.Conn, p Pair) (FolderPlan, error) {
	fp := FolderPlan{From: p.From, To: p.To, SpecialUse: p.SpecialUse, Create: !p.Exists}
	if _, _, err := from.SelectPermanentFlags(ctx, p.From, true); err != nil {
		return fp, fmt.Errorf("FROM folder %q: %w", p.From, err)
	}
	src, err := from.ListRaw(ctx)
	if err != nil {
		return fp, fmt.Errorf("FROM folder %q: %w", p.From, err)
	}
	fp.Messages = len(src)
	var dst []imapconn.RawMsg
	if p.Exists {
		if _, _, err := to.SelectPermanentFlags(ctx, p.To, true); err != nil {
			return fp, fmt.Errorf("TO folder %q: %w", p.To, err)
		}
		if dst, err = to.ListRaw(ctx); err != nil {
			return fp, fmt.Errorf("TO folder %q: %w", p.To, err)
		}
	}
	fp.toCopy, fp.matched, err = missing(ctx, src, dst,
		func(uids []model.UID) (map[model.UID]string, error) { return fullHashes(ctx, from, p.From, uids) },
		func(uids []model.UID) (map[model.UID]string, error) { return fullHashes(ctx, to, p.To, uids) })
	if err != nil {
		return fp, err
	}
	fp.Present = len(src) - len(fp.toCopy)
	fp.Copy = len(fp.toCopy)
	for _, m := range fp.matched {
		if len(lacking(m.src.Flags, m.dst.Flags)) > 0 {
			fp.FlagUpdates++
		}
	}
	for _, m := range fp.toCopy {
		fp.CopyBytes += m.Size
	}
	return fp, nil
}

// match is a FROM message and the TO message holding the same content.
type match struct{ src, dst imapconn.RawMsg }

// lacking returns the flags of want that have is without
// (case-insensitively).
func lacking(want, have []string) []string {
	var out []string
	for _, f := range want {
		if !hasAttr(have, f) {
			out = append(out, f)
		}
	}
	return out
}

// missing returns the messages of src that dst does not hold, in src's
// order, and the pairs of those it holds. Fingerprints unique on both sides decide alone; otherwise the
// candidates' whole-message hashes (srcHash, dstHash) are compared as
// multisets: with n copies on src and k on dst, n-k are missing.
func missing(ctx context.Context, src, dst []imapconn.RawMsg, srcHash, dstHash func([]model.UID) (map[model.UID]string, error)) ([]imapconn.RawMsg, []match, error) {
	srcBy := map[string][]imapconn.RawMsg{}
	for _, m := range src {
		srcBy[m.Fingerprint] = append(srcBy[m.Fingerprint], m)
	}
	dstBy := map[string][]imapconn.RawMsg{}
	for _, m := range dst {
		dstBy[m.Fingerprint] = append(dstBy[m.Fingerprint], m)
	}
	var needSrc, needDst []model.UID
	for fp, s := range srcBy {
		d := dstBy[fp]
		if len(d) == 0 || (len(s) == 1 && len(d) == 1) {
			continue
		}
		for _, m := range s {
			needSrc = append(needSrc, m.UID)
		}
		for _, m := range d {
			needDst = append(needDst, m.UID)
		}
	}
	var sh, dh map[model.UID]string
	if len(needSrc) > 0 {
		var err error
		if sh, err = srcHash(needSrc); err != nil {
			return nil, nil, err
		}
		if dh, err = dstHash(needDst); err != nil {
			return nil, nil, err
		}
	}
	dstByHash := map[string][]imapconn.RawMsg{}
	for _, m := range dst {
		if h, ok := dh[m.UID]; ok {
			dstByHash[h] = append(dstByHash[h], m)
		}
	}
	var out []imapconn.RawMsg
	var matched []match
	for _, m := range src {
		d := dstBy[m.Fingerprint]
		switch {
		case len(d) == 0:
			out = append(out, m)
		case len(d) == 1 && len(srcBy[m.Fingerprint]) == 1:
			matched = append(matched, match{m, d[0]})
		default:
			h, ok := sh[m.UID]
			if !ok {
				continue // expunged on FROM since the listing
			}
			if cand := dstByHash[h]; len(cand) > 0 {
				matched = append(matched, match{m, cand[0]})
				dstByHash[h] = cand[1:]
				continue
			}
			out = append(out, m)
		}
	}
	return out, matched, ctx.Err()
}

// fullHashes returns the SHA-256 of the whole message of each UID of
// folder.
func fullHashes(ctx context.Context, c *imapconn.Conn, folder string, uids []model.UID) (map[model.UID]string, error) {
	if _, _, err := c.SelectPermanentFlags(ctx, folder, true); err != nil {
		return nil, fmt.Errorf("folder %q: %w", folder, err)
	}
	out := map[model.UID]string{}
	err := c.FetchBodies(ctx, uids, func(m imapconn.Message) error {
		h, err := model.HashReader(m.Body)
		out[m.UID] = h
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("folder %q: compare messages: %w", folder, err)
	}
	return out, nil
}

// streamOver is the size above which a message is streamed from FROM to
// TO rather than batched in memory.
const streamOver = 1 << 20

// copyFolder creates fp.To when needed and appends fp.toCopy there.
func copyFolder(ctx context.Context, from, to *imapconn.Conn, fp *FolderPlan, rep *Report, opts Options) error {
	if fp.Create {
		if err := to.CreateFolder(ctx, fp.To); err != nil {
			return fmt.Errorf("create TO folder %q: %w", fp.To, err)
		}
		rep.Created++
	}
	if len(fp.toCopy) == 0 && fp.FlagUpdates == 0 {
		return nil
	}
	// Read-write: EXAMINE answers PERMANENTFLAGS ().
	_, perm, err := to.SelectPermanentFlags(ctx, fp.To, false)
	if err != nil {
		return fmt.Errorf("TO folder %q: %w", fp.To, err)
	}
	anyKeyword := hasAttr(perm, `\*`)
	dropped := map[string]bool{}
	defer func() {
		if len(dropped) == 0 {
			return
		}
		var names []string
		for k := range dropped {
			names = append(names, k)
		}
		sort.Strings(names)
		rep.Keywords += len(names)
		if opts.Warnf != nil {
			opts.Warnf("TO folder %q keeps no new keywords (no \\* in PERMANENTFLAGS): dropped %s", fp.To, strings.Join(names, " "))
		}
	}()
	keep := func(flags []string) []string {
		var out []string
		for _, f := range flags {
			if strings.HasPrefix(f, `\`) || anyKeyword || hasAttr(perm, f) {
				out = append(out, f)
			} else {
				dropped[f] = true
			}
		}
		return out
	}

	// Messages already there: add the flags they lack, grouped by set.
	groups := map[string][]model.UID{}
	for _, m := range fp.matched {
		if add := keep(lacking(m.src.Flags, m.dst.Flags)); len(add) > 0 {
			sort.Strings(add)
			k := strings.Join(add, " ")
			groups[k] = append(groups[k], m.dst.UID)
		}
	}
	for k, uids := range groups {
		if err := to.AddFlagsRaw(ctx, uids, strings.Split(k, " ")); err != nil {
			if ctx.Err() != nil || imapconn.IsRetryable(err) {
				return fmt.Errorf("TO folder %q: %w", fp.To, err)
			}
			// A refusal leaves those messages' flags as they are; the
			// copy goes on (GNU imap4d refuses UIDs above its message
			// count, for one).
			if opts.Warnf != nil {
				opts.Warnf("TO folder %q: flags %s not added to %d messages already there: %v", fp.To, k, len(uids), err)
			}
		}
	}
	if len(fp.toCopy) == 0 {
		return nil
	}
	if _, _, err := from.SelectPermanentFlags(ctx, fp.From, true); err != nil {
		return fmt.Errorf("FROM folder %q: %w", fp.From, err)
	}
	meta := map[model.UID]imapconn.RawMsg{}
	uids := make([]model.UID, 0, len(fp.toCopy))
	for _, m := range fp.toCopy {
		meta[m.UID] = m
		uids = append(uids, m.UID)
	}
	// Messages go to TO in pipelined batches of up to 16 messages or
	// 8 MiB, so that a round trip is not paid per message; a message
	// larger than streamOver goes alone, streamed from FROM's FETCH to
	// TO's APPEND, never held in memory.
	var (
		batch      []imapconn.RawAppend
		batchMeta  []imapconn.RawMsg
		batchBytes int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := to.AppendRawBatch(ctx, fp.To, batch, func(i int) error {
			r := batchMeta[i]
			fp.Copied++
			fp.Bytes += r.Size
			rep.Copied++
			rep.CopiedB += r.Size
			if opts.Progress != nil {
				opts.Progress.Done(1, r.Size)
			}
			return nil
		})
		batch, batchMeta, batchBytes = nil, nil, 0
		if err != nil {
			return fmt.Errorf("copy to %q: %w", fp.To, err)
		}
		return nil
	}
	err = from.FetchBodies(ctx, uids, func(m imapconn.Message) error {
		r := meta[m.UID]
		flags := keep(r.Flags)
		date := r.InternalDate
		if date.IsZero() {
			date = m.InternalDate
		}
		if m.Size > streamOver {
			if err := flush(); err != nil {
				return err
			}
			batch = append(batch, imapconn.RawAppend{Reader: m.Body, Size: m.Size, Flags: flags, Date: date})
			batchMeta = append(batchMeta, r)
			return flush()
		}
		body, err := io.ReadAll(m.Body)
		if err != nil {
			return err
		}
		batch = append(batch, imapconn.RawAppend{Body: body, Flags: flags, Date: date})
		batchMeta = append(batchMeta, r)
		batchBytes += int64(len(body))
		if len(batch) >= 16 || batchBytes >= 8<<20 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("FROM folder %q: %w", fp.From, err)
	}
	return nil
}
