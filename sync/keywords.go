package sync

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/internal/crashpoint"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/sync/plan"
)

// Keywords and edited files: the executor's side. Keywords travel as
// IMAP keywords on the server and, in the Maildir, as lowercase letters
// of the file name that the folder's dovecot-keywords file names
// (Dovecot's convention; maildir.Keywords). The planner merges them like
// flags (plan.FlagSync); this file reads them from the scan, gives the
// server's keywords letters, and writes them.

// localMsgs makes the planner's listing of a scan: flags, keyword names
// (letters the map does not name are unknown keywords, kept in the file
// name as they are and not synced), size and mtime.
func localMsgs(entries []maildir.Entry, kw *maildir.Keywords) []model.LocalMsg {
	local := make([]model.LocalMsg, len(entries))
	for i, en := range entries {
		local[i] = model.LocalMsg{Key: en.Key, Flags: en.Flags, Keywords: model.NewKeywords(kw.NamesOf(en.Info)...),
			Size: en.Size, Ino: en.Ino}
		if !en.ModTime.IsZero() {
			local[i].ModTime = en.ModTime.UnixNano()
		}
	}
	return local
}

// statPaired fills in the size and mtime of the listed files that a
// stored pair names (List reads names only): a change of either tells a
// file edited in place (plan.Edits). It runs when the Maildir folder
// changed since the last run left it in step, or when the folder's edit
// check is due (editCheckDue): a run after changes on the server only
// costs no stat per file. Unpaired files are looked up when they are
// uploaded.
func (r *folderRun) statPaired(st *model.FolderState, entries []maildir.Entry) error {
	paired := make(map[string]bool, len(st.Pairs))
	for _, p := range st.Pairs {
		paired[p.Key] = true
	}
	if err := r.f.StatEntries(entries, func(key string) bool { return paired[key] }); err != nil {
		return err
	}
	return nil
}

// prepareKeywords reads the folder's keyword map and gives a letter to
// every keyword the server's messages or the stored pairs carry that the
// map lacks, so that downloads and flag changes can write them. It
// returns the map and the keywords left without a letter (all 26 taken):
// those stay on the server only.
func (r *folderRun) prepareKeywords(st *model.FolderState, remote []model.RemoteMsg) (*maildir.Keywords, model.Keywords, error) {
	kw, err := r.f.Keywords()
	if err != nil {
		return nil, nil, err
	}
	var all []string
	for _, m := range remote {
		all = append(all, m.Keywords...)
	}
	for _, p := range st.Pairs {
		all = append(all, p.Keywords...)
	}
	want := model.NewKeywords(all...)
	_, missing := kw.LettersOf(want)
	if len(missing) == 0 {
		return kw, nil, nil
	}
	if len(kw.All()) < maildir.MaxKeywords {
		kw, err = r.f.AddKeywords(missing...)
		if err != nil && !errors.Is(err, maildir.ErrTooManyKeywords) {
			return nil, nil, err
		}
		_, missing = kw.LettersOf(want)
	}
	return kw, model.NewKeywords(missing...), nil
}

// sayOneSided warns once about keywords that stay on one side: those the
// Maildir's messages carry that the server cannot store (PERMANENTFLAGS
// without `\*`), and those the server's messages carry that the Maildir
// folder has no letter left for. What was said is recorded in the state
// (FolderState.OneSided, which verify reads), and said again only after
// the keyword could be synced meanwhile.
func (r *folderRun) sayOneSided(st *model.FolderState, local []model.LocalMsg, full model.Keywords) error {
	unkept := map[string]int{}
	var names model.Keywords
	for _, l := range local {
		for _, k := range l.Keywords {
			if !r.kwRule.Keeps(k) {
				unkept[strings.ToLower(k)]++
				names = names.Union(model.Keywords{k})
			}
		}
	}
	oneSided := names.Union(full)
	said := st.OneSided.Intersect(oneSided)
	for _, k := range names {
		if said.Has(k) {
			continue
		}
		said = said.Union(model.Keywords{k})
		r.e.warn("folder %q: the server cannot store the keyword %s (it is not in the folder's PERMANENTFLAGS, which has no \\*); %d messages keep it in the Maildir only, and later ones will too",
			r.name, k, unkept[strings.ToLower(k)])
	}
	for _, k := range full {
		if said.Has(k) {
			continue
		}
		said = said.Union(model.Keywords{k})
		r.e.warn("folder %q: the server's keyword %s stays on the server only: the Maildir folder's %s already names %d keywords, as many as a Maildir file name has letters for",
			r.name, k, maildir.KeywordsFile, maildir.MaxKeywords)
	}
	if said.Equal(st.OneSided) {
		return nil
	}
	st.OneSided = said
	return r.e.db.Commit(r.name, model.StateChange{SetOneSided: true, OneSided: said})
}

// uploadedPair is the pair of an uploaded file: its flags and keywords
// as they were in the Maildir (those the server cannot store stay
// there), and the content it had.
func (r *folderRun) uploadedPair(uid model.UID, en maildir.Entry, in model.Intent) model.Pair {
	return model.Pair{UID: uid, Key: en.Key, Flags: en.Flags, Keywords: r.keywordsOf(en),
		Size: en.Size, ModTime: en.ModTime.UnixNano(), Ino: en.Ino, Hash: in.Hash, Fingerprint: in.Fingerprint}
}

// keywordsOf returns the keyword names of a file's letters.
func (r *folderRun) keywordsOf(en maildir.Entry) model.Keywords {
	if r.kw == nil {
		return nil
	}
	return model.NewKeywords(r.kw.NamesOf(en.Info)...)
}

// editCheck fills in the content of the paired files whose size or
// mtime changed (plan.NeedEditCheck), to tell an edit from a touch.
func (r *folderRun) editCheck(in *plan.Input) error {
	return r.readLocal(in, plan.NeedEditCheck(in), func(m *model.LocalMsg, en maildir.Entry, data []byte) {
		m.Hash, m.Fingerprint, m.WireSize = model.ContentHash(data), model.LocalFingerprint(data), model.CRLFSize(data)
		m.Size, m.ModTime, m.Ino = en.Size, en.ModTime.UnixNano(), en.Ino
	})
}

// storeKeywords brings the server's keywords to each FlagSync's KwServer,
// one UID STORE per keyword and direction.
func (r *folderRun) storeKeywords(ctx context.Context, syncs []plan.FlagSync) error {
	type change struct {
		add bool
		kw  string
	}
	groups := map[change][]model.UID{}
	spelling := map[string]string{}
	for _, s := range syncs {
		for _, k := range s.KwServer.Minus(s.KwRemote) {
			c := change{true, strings.ToLower(k)}
			groups[c] = append(groups[c], s.UID)
			spelling[c.kw] = k
		}
		for _, k := range s.KwRemote.Minus(s.KwServer) {
			c := change{false, strings.ToLower(k)}
			groups[c] = append(groups[c], s.UID)
			spelling[c.kw] = k
		}
	}
	changes := make([]change, 0, len(groups))
	for c := range groups {
		changes = append(changes, c)
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].add != changes[j].add {
			return changes[i].add
		}
		return changes[i].kw < changes[j].kw
	})
	for _, c := range changes {
		if err := r.c.StoreKeywords(ctx, groups[c], c.add, model.Keywords{spelling[c.kw]}); err != nil {
			return err
		}
	}
	return nil
}

// replace expunges the old server copies of edited files (plan.Replace)
// whose new content is on the server now: a pair with a higher UID names
// the same key. The others wait for the pass that pairs the upload.
func (r *folderRun) replace(ctx context.Context, refs []plan.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	st, err := r.e.db.Load(r.name)
	if err != nil {
		return err
	}
	newest := map[string]model.UID{}
	for _, p := range st.Pairs {
		newest[p.Key] = max(newest[p.Key], p.UID)
	}
	var uids []model.UID
	for _, x := range refs {
		if newest[x.Key] > x.UID {
			uids = append(uids, x.UID)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	if err := r.c.Expunge(ctx, uids); err != nil {
		if errors.Is(err, imapconn.ErrExpungeDeferred) {
			r.e.warn("folder %q: %v", r.name, err)
			return nil
		}
		return fmt.Errorf("expunge the old copies of edited messages: %w", err)
	}
	crashpoint.Step("imap-expunge")
	r.sum.ExpungedRemote += len(uids)
	return r.e.db.Commit(r.name, model.StateChange{DeletePairs: uids})
}
