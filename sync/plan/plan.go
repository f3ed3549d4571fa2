// Package plan holds every decision the sync engine makes, as pure
// functions of values: which folders to sync, create, skip or forget
// (Folders), how to list a folder's server messages (Listing), which
// fingerprints and whole-message hashes are needed (NeedFingerprints,
// NeedHashes), and what to do with each
// message (Build). It does no I/O and imports none of imapconn, maildir
// or statedb: the engine in package sync lists both sides and the state,
// asks this package, and applies the answer.
//
// Asking "why did mailsync do X?" starts here: every decision is a
// function with a table test in this package.
package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/mailsync/mailsync/model"
)

// MassDeleteMin is the smallest number of deletions the mass-deletion
// guard considers: a run that would delete at least this many messages
// and more than half of a folder's messages on one side is refused unless
// the user allows it.
const MassDeleteMin = 5

// ErrValidityConflict means the server's UIDVALIDITY changed while
// messages were deleted locally, and either a deleted message's pair
// remembers no content (recorded by an older version: a local deletion
// could not be told from a message the server lost) or the deletions are
// a mass deletion the guard holds back: nothing is touched.
var ErrValidityConflict = errors.New("UIDVALIDITY changed on the server while the local folder also changed")

// Input is everything the planner looks at for one folder. Fingerprints
// in Remote and Local may be empty; NeedFingerprints says which the plan
// needs.
type Input struct {
	Folder      string
	State       *model.FolderState
	UIDValidity uint32            // the server's, from SELECT
	Remote      []model.RemoteMsg // every message on the server
	Local       []model.LocalMsg  // every message in the Maildir folder
	// AllowMassDelete turns the mass-deletion guard off.
	AllowMassDelete bool
	// Unkept are the flags the server cannot store in this folder
	// (model.FolderStatus.Unkept).
	Unkept model.Flags
	// Policy is the direction, the deletion policy and --restore
	// (ApplyPolicy); the zero value is a two-way sync.
	Policy Policy
	// Keywords says which keywords the server folder can store
	// (PERMANENTFLAGS); the others take no part in the merge and stay in
	// the Maildir only, like Unkept flags.
	Keywords model.KeywordRule
	// LocalFull are keywords the Maildir folder has no letter for (all
	// 26 taken): they take no part in the merge and stay on the server.
	LocalFull model.Keywords
	// TotalPairs is, in a quick pass (see Quick), the number of the
	// folder's pairs, of which State.Pairs holds only those the pass
	// plans (the mass-deletion guard weighs deletions against it); 0
	// otherwise.
	TotalPairs int

	ix *index // see index.go
}

// FlagSync brings one pair's flags to Target on both sides. Flags the
// server cannot store (Plan.Unkept) keep their Maildir value in Target
// and are left out of what is sent: the server gets ServerTarget.
//
// The Kw fields do the same for keywords: KwTarget is what both sides
// agree on afterwards (recorded as the pair's base), KwServer what the
// server is brought to (KwTarget but for keywords it cannot store, which
// keep its value), KwMaildir what the Maildir is brought to (KwTarget but
// for keywords it has no letter for). All are nil when no side has a
// keyword.
type FlagSync struct {
	UID                         model.UID
	Key                         string
	Base, Remote, Local, Target model.Flags

	KwBase, KwRemote, KwLocal, KwTarget model.Keywords
	KwServer, KwMaildir                 model.Keywords
}

// ServerTarget is the flags to bring the server to: Target without the
// flags it cannot store, which keep the server's value.
func (s FlagSync) ServerTarget(unkept model.Flags) model.Flags {
	return s.Target&^unkept | s.Remote&unkept
}

// Ref names a paired message.
type Ref struct {
	UID model.UID
	Key string
}

// NewPair is a pair found by content (fingerprint).
type NewPair struct {
	UID    model.UID
	Key    string
	Base   model.Flags    // the flags to record as agreed before FlagSync runs
	BaseKw model.Keywords // the keywords to record as agreed
}

// Download is a server message to fetch into the Maildir.
type Download struct {
	UID   model.UID
	Flags model.Flags
	Size  int64
}

// Upload is a Maildir message to APPEND to the server. Flags are the
// Maildir's; the APPEND carries them without Plan.Unkept.
type Upload struct {
	Key   string
	Flags model.Flags
}

// Plan is what one folder needs. The executor applies it in the order of
// the fields.
type Plan struct {
	Folder string
	// Unkept are the flags the server cannot store (Input.Unkept): they
	// take no part in the merge, keep their Maildir value, and are never
	// sent to the server (FlagSync.ServerTarget and Upload.ServerFlags
	// leave them out).
	Unkept model.Flags
	// Keywords and LocalFull are Input's: keywords the server cannot
	// store are never sent to it (FlagSync.KwServer, the uploads), and
	// keywords the Maildir has no letter for are never written there.
	Keywords  model.KeywordRule
	LocalFull model.Keywords
	// UpdatePairs are stored pairs whose content fields (size, mtime,
	// hash, fingerprint of the Maildir file) are recorded anew: the file
	// was touched without a change of content, or the pair predates
	// those fields.
	UpdatePairs []model.Pair
	// ResetPairs: the server's UIDVALIDITY changed; the old pairs are
	// forgotten in the same commit that records the new ones.
	ResetPairs    bool
	Pair          []NewPair
	Flags         []FlagSync
	DeleteLocal   []Ref // gone from the server
	ExpungeRemote []Ref // gone from the Maildir
	DropPairs     []model.UID
	DropIntents   []string
	// Replace are pairs whose Maildir file was edited in place (its
	// content is not the one paired) or whose key a newer pair names: the
	// file is uploaded as a new message (in Upload, or paired with a copy
	// already on the server) and then the old UID is expunged.
	Replace []Ref
	// RemoveOrphans are Maildir files an interrupted run downloaded
	// (their content matches a download intent) whose server message is
	// gone: removed, not uploaded as new.
	RemoveOrphans []string
	// DropDownloads are the stored download intents, forgotten once the
	// orphans are removed.
	DropDownloads []model.UID
	Download      []Download
	Upload        []Upload
	// Blocked says which deletions the guard held back, for the user.
	Blocked []string
	// HeldBack is the new list of pairs whose deletion is held back
	// (sorted UIDs); SetHeldBack is true when it differs from the
	// stored one and must be recorded.
	HeldBack    []model.UID
	SetHeldBack bool
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return !p.ResetPairs && len(p.Pair) == 0 && len(p.Flags) == 0 && len(p.DeleteLocal) == 0 && len(p.Replace) == 0 && len(p.UpdatePairs) == 0 &&
		len(p.ExpungeRemote) == 0 && len(p.DropPairs) == 0 && len(p.DropIntents) == 0 &&
		len(p.RemoveOrphans) == 0 && len(p.DropDownloads) == 0 && len(p.Download) == 0 && len(p.Upload) == 0 && !p.SetHeldBack
}

// ValidityChanged reports whether the stored pairs belong to another
// UIDVALIDITY than the server's.
func ValidityChanged(st *model.FolderState, serverValidity uint32) bool {
	return st.UIDValidity != 0 && st.UIDValidity != serverValidity
}

// pairedSet tells the server UIDs and Maildir keys the stored pairs
// account for. A pair whose Maildir file is gone does not account for its
// UID: the message may be in the Maildir under another name (restored by
// another program), which pairing by content finds. After a UIDVALIDITY
// change none do; nor does the key of an edited file.
type pairedSet struct {
	in     *Input
	reset  bool
	edited map[string]bool
}

func pairedSets(in *Input) pairedSet {
	if ValidityChanged(in.State, in.UIDValidity) {
		return pairedSet{in: in, reset: true}
	}
	return pairedSet{in: in, edited: editedKeys(in)}
}

func (ps pairedSet) uid(u model.UID) bool {
	if ps.reset {
		return false
	}
	pr, ok := ps.in.StoredPair(u)
	return ok && ps.in.hasLocal(pr.Key)
}

func (ps pairedSet) key(k string) bool {
	if ps.reset || ps.edited[k] {
		return false
	}
	_, ok := ps.in.pairOfKey(k)
	return ok
}

// NeedFingerprints returns the server UIDs and Maildir keys whose
// fingerprints the plan needs: the unpaired messages of both sides, when
// both sides have some (so that a message already on both sides is paired
// instead of copied again).
func NeedFingerprints(in *Input) (remote []model.UID, local []string) {
	paired := pairedSets(in)
	unpairedLocal := 0
	for _, l := range in.Local {
		if !paired.key(l.Key) {
			unpairedLocal++
			if l.Fingerprint == "" {
				local = append(local, l.Key)
			}
		}
	}
	lostIntent := false
	for _, it := range in.State.Intents {
		if !in.hasLocal(it.Key) {
			lostIntent = true
		}
	}
	unpairedRemote := 0
	for _, r := range in.Remote {
		if !paired.uid(r.UID) {
			unpairedRemote++
			if r.Fingerprint == "" {
				remote = append(remote, r.UID)
			}
		}
	}
	if unpairedRemote == 0 {
		if len(in.State.Downloads) > 0 {
			return nil, local // orphans of interrupted downloads
		}
		return nil, nil
	}
	if unpairedLocal == 0 {
		local = nil
		if !lostIntent && len(goneAfterReset(in)) == 0 {
			remote = nil
		}
	}
	return remote, local
}

// NeedHashes returns the server UIDs and Maildir keys whose whole-message
// hashes (model.ContentHash) the plan needs, once the fingerprints
// NeedFingerprints asked for are filled in: the unpaired messages whose
// fingerprint matches an unpaired message of the other side, or (server
// messages) an upload intent whose file is gone. A pair made by content
// must be certain: the same header block and size do not make the same
// message, so PairByContent pairs only equal hashes.
func NeedHashes(in *Input) (remote []model.UID, local []string) {
	paired := pairedSets(in)
	localPrints, remotePrints := map[string]bool{}, map[string]bool{}
	for _, l := range in.Local {
		if l.Fingerprint != "" && !paired.key(l.Key) {
			localPrints[l.Fingerprint] = true
		}
	}
	for _, it := range in.State.Intents {
		if !in.hasLocal(it.Key) && it.Fingerprint != "" {
			localPrints[it.Fingerprint] = true
		}
	}
	for _, pr := range goneAfterReset(in) {
		localPrints[pr.Fingerprint] = true
	}
	for _, r := range in.Remote {
		if r.Fingerprint == "" || paired.uid(r.UID) {
			continue
		}
		remotePrints[r.Fingerprint] = true
		if localPrints[r.Fingerprint] && r.Hash == "" {
			remote = append(remote, r.UID)
		}
	}
	for _, d := range in.State.Downloads {
		remotePrints[d.Fingerprint] = true // an orphan of an interrupted download
	}
	for _, l := range in.Local {
		if l.Fingerprint != "" && remotePrints[l.Fingerprint] && l.Hash == "" && !paired.key(l.Key) {
			local = append(local, l.Key)
		}
	}
	return remote, local
}

// Build is the planner: a pure function of the stored state and the two
// listings. It returns ErrValidityConflict (wrapped, naming the folder)
// when it cannot plan safely. It runs the steps below in order; each is
// a function of its own with its own table test.
func Build(in *Input) (*Plan, error) {
	p := &Plan{Folder: in.Folder, Unkept: in.Unkept}
	reset, err := ValidityReset(in)
	if err != nil {
		return nil, err
	}
	pairs := in.State.Pairs
	if reset.Reset {
		p.ResetPairs = true
		pairs = nil
	}
	p.Keywords, p.LocalFull = in.Keywords, in.LocalFull
	current := Edits(p, pairs, in.RemoteMsg, in.LocalMsg)
	DiffPairs(p, current, in.RemoteMsg, in.LocalMsg)
	PairByContent(p, in, current, reset.OldBase)
	ApplyPolicy(p, in)
	if n := len(p.DeleteLocal); reset.Reset && n >= MassDeleteMin && 2*n > len(in.State.Pairs) && !in.AllowMassDelete {
		return nil, fmt.Errorf("folder %q: %w: %d of %d messages are gone from the server; not deleting them from the Maildir (run with --allow-mass-delete if this is intended)",
			in.Folder, ErrValidityConflict, n, len(in.State.Pairs))
	}
	held := in.State.HeldBack
	total := len(pairs)
	if in.TotalPairs > 0 && !reset.Reset {
		total = in.TotalPairs
	}
	if reset.Reset {
		held = nil // UIDs of the old UIDVALIDITY
		total = len(in.State.Pairs)
	}
	GuardMassDeletion(p, total, held, in.AllowMassDelete)
	p.SetHeldBack = !slices.Equal(p.HeldBack, in.State.HeldBack)
	return p, nil
}

// Reset is the UIDVALIDITY decision.
type Reset struct {
	// Reset: forget every pair and re-pair by content.
	Reset bool
	// OldBase maps each Maildir key of a forgotten pair to the flags the
	// pair had agreed on, so that re-pairing keeps the three-way merge.
	OldBase map[string]model.Flags
	// OldKeywords does the same for the keywords (keys with none are
	// absent).
	OldKeywords map[string]model.Keywords
	// Gone are the forgotten pairs whose Maildir file is gone: deleted
	// locally. PairByContent finds their messages on the server by the
	// content the pairs remember and expunges them.
	Gone []model.Pair
}

// ValidityReset decides what a changed UIDVALIDITY means. Unchanged: no
// reset. Changed: reset and re-pair by content; the new files are
// uploaded unless found on the server, and a paired file gone (deleted
// locally) has its message found on the server by the content its pair
// remembers, and expunged there (Reset.Gone); a paired file unchanged
// since whose content is not on the server any more was deleted there,
// and is deleted too (PairByContent; Build refuses a mass deletion of
// them). ErrValidityConflict when a gone file's pair remembers no
// content (recorded by an older version: a local deletion could not be
// told from a message the server lost) and the server folder is not
// empty, or when the local deletions are a mass deletion (MassDeleteMin
// and more than half the pairs) and AllowMassDelete is off. Under a
// policy that never expunges local deletions (pull, or deletions kept)
// a gone file is no conflict: nothing on the server is at risk.
func ValidityReset(in *Input) (Reset, error) {
	r := Reset{OldBase: map[string]model.Flags{}}
	if !ValidityChanged(in.State, in.UIDValidity) {
		return r, nil
	}
	local := map[string]bool{}
	for _, l := range in.Local {
		local[l.Key] = true
	}
	// Under a policy that never expunges what is gone from the Maildir
	// (pull, or deletions kept), a missing file is no conflict: it was
	// not going to be deleted on the server anyway.
	expungesLocalDeletions := in.Policy.CanChangeServer() && in.Policy.Deletions == Propagate
	for _, pr := range in.State.Pairs {
		r.OldBase[pr.Key] = pr.Flags
		if len(pr.Keywords) > 0 {
			if r.OldKeywords == nil {
				r.OldKeywords = map[string]model.Keywords{}
			}
			r.OldKeywords[pr.Key] = pr.Keywords
		}
		if local[pr.Key] || !expungesLocalDeletions {
			continue
		}
		if pr.Hash == "" || pr.Fingerprint == "" {
			if len(in.Remote) == 0 {
				// An empty server folder (deleted and created again, or
				// emptied by a server that renumbers an emptied folder,
				// as imap4d does) holds nothing to expunge.
				continue
			}
			return Reset{}, fmt.Errorf("folder %q: %w (message %s was deleted locally, and the state does not remember its content to find it on the server); delete the folder's Maildir messages that should not come back, then move the state file away and sync again",
				in.Folder, ErrValidityConflict, pr.Key)
		}
		r.Gone = append(r.Gone, pr)
	}
	if n, total := len(r.Gone), len(in.State.Pairs); n >= MassDeleteMin && 2*n > total && !in.AllowMassDelete && len(in.Remote) > 0 {
		return Reset{}, fmt.Errorf("folder %q: %w: %d of %d messages are gone from the Maildir; not deleting them on the server (run with --allow-mass-delete if this is intended)",
			in.Folder, ErrValidityConflict, n, total)
	}
	// A message new in the Maildir is no reason to stop: pairing by
	// content finds it on the server if it is there, else it is
	// uploaded, as without the reset.
	r.Reset = true
	return r, nil
}

// flagSync adds a FlagSync when the merged flags differ from any of
// base, r and l. The flags the server cannot store are not merged: they
// keep the Maildir's value, and the server's lack of them is no change.
//
// Keywords merge the same way, keyword by keyword (model.MergeKeywords):
// a keyword the server cannot store (Plan.Keywords) keeps its Maildir
// value, and one the Maildir has no letter for (Plan.LocalFull) keeps
// the server's.
func (p *Plan) flagSync(uid model.UID, key string, base, r, l model.Flags, kb, kr, kl model.Keywords) {
	u := p.Unkept
	target := model.MergeFlags(base&^u, r&^u, l&^u) | l&u
	both := func(n string) bool { return p.Keywords.Keeps(n) && !p.LocalFull.Has(n) }
	kt := model.MergeKeywords(kb.Filter(both), kr.Filter(both), kl.Filter(both)).
		Union(kr.Filter(p.serverOnly)).Union(kl.Filter(p.localOnly))
	s := FlagSync{UID: uid, Key: key, Base: base, Remote: r, Local: l, Target: target,
		KwBase: kb, KwRemote: kr, KwLocal: kl}
	if p.setKeywordTarget(&s, kt) {
		p.Flags = append(p.Flags, s)
	}
}

// serverOnly: a keyword the Maildir folder has no letter for.
func (p *Plan) serverOnly(n string) bool { return p.LocalFull.Has(n) }

// localOnly: a keyword the server folder cannot store.
func (p *Plan) localOnly(n string) bool { return !p.Keywords.Keeps(n) && !p.LocalFull.Has(n) }

// setKeywordTarget sets s's keyword target kt and what each side is
// brought to: the target, but for the keywords that side cannot hold,
// which keep that side's value. It reports whether s changes anything.
func (p *Plan) setKeywordTarget(s *FlagSync, kt model.Keywords) bool {
	u := p.Unkept
	kr, kl := s.KwRemote, s.KwLocal
	s.KwTarget = kt
	s.KwServer = kt.Filter(p.Keywords.Keeps).Union(kr.Filter(func(n string) bool { return !p.Keywords.Keeps(n) }))
	s.KwMaildir = kt.Filter(func(n string) bool { return !p.LocalFull.Has(n) }).Union(kl.Filter(p.serverOnly))
	return s.Target != s.Base || s.Target&^u != s.Remote&^u || s.Target != s.Local ||
		!kt.Equal(s.KwBase) || !s.KwServer.Equal(kr) || !s.KwMaildir.Equal(kl)
}

// DiffPairs decides for every stored pair: on both sides, merge the
// flags; gone from the Maildir, expunge on the server; gone from the
// server, delete the file; gone from both, forget the pair.
func DiffPairs(p *Plan, pairs []model.Pair, remote Remotes, local Locals) {
	for _, pr := range pairs {
		r, rok := remote(pr.UID)
		l, lok := local(pr.Key)
		switch {
		case rok && lok:
			p.flagSync(pr.UID, pr.Key, pr.Flags, r.Flags, l.Flags, pr.Keywords, r.Keywords, l.Keywords)
		case rok:
			p.ExpungeRemote = append(p.ExpungeRemote, Ref{pr.UID, pr.Key})
		case lok:
			p.DeleteLocal = append(p.DeleteLocal, Ref{pr.UID, pr.Key})
		default:
			p.DropPairs = append(p.DropPairs, pr.UID)
		}
	}
}

// PairByContent decides for every unpaired message. Unpaired messages
// with the same fingerprint and the same whole-message hash on both sides
// (a fingerprint alone is not certain: see NeedHashes) are one message:
// pair them
// (first sync over existing mail, lost state, a crash between a transfer
// and its commit, an APPEND without APPENDUID, a changed UIDVALIDITY). A
// server message matching an upload intent whose file is gone was
// uploaded by an interrupted run and deleted locally since: expunge it.
// Other server messages are downloaded; a Maildir message matching a
// download intent is a file an interrupted run downloaded whose server
// message is gone since: it is removed (RemoveOrphans); other Maildir
// messages are uploaded.
// Every stored intent is dropped (the executor keeps those it still
// needs). oldBase gives the agreed flags of pairs forgotten by a reset.
func PairByContent(p *Plan, in *Input, pairs []model.Pair, oldBase map[string]model.Flags) {
	// What pairs account for: pairs, the old UIDs of edited files (they
	// stay paired until expunged: Edits), and the pairs made here.
	ps := newPairLookup(in, pairs)
	newUID, newKey := map[model.UID]bool{}, map[string]bool{}
	for _, x := range p.Replace {
		newUID[x.UID] = true
	}
	isPairedUID := func(u model.UID) bool {
		if newUID[u] {
			return true
		}
		_, ok := ps.byUID(u)
		return ok
	}
	isPairedKey := func(k string) bool { return newKey[k] || ps.hasKey(k) }
	// Keywords agreed before a reset; messages deleted locally before it,
	// by content.
	oldKw := map[string]model.Keywords{}
	goneByContent := map[string][]string{}
	oldPair := map[string]model.Pair{}
	if ValidityChanged(in.State, in.UIDValidity) {
		for _, pr := range in.State.Pairs {
			if len(pr.Keywords) > 0 {
				oldKw[pr.Key] = pr.Keywords
			}
			oldPair[pr.Key] = pr
		}
		for _, pr := range goneAfterReset(in) {
			c := pr.Fingerprint + "/" + pr.Hash
			goneByContent[c] = append(goneByContent[c], pr.Key)
		}
	}
	// A pair whose file is gone (DiffPairs: expunge on the server) is
	// paired again when its message is in the Maildir under another name.
	gone := make(map[model.UID]bool, len(p.ExpungeRemote))
	for _, x := range p.ExpungeRemote {
		gone[x.UID] = true
	}
	repaired := map[model.UID]bool{}
	// oldFound: the server folder still holds a message paired before
	// the UIDVALIDITY changed (found by content): renumbered, not new.
	oldFound := false
	byPrint := map[string][]string{}
	var unpairedLocal []model.LocalMsg
	for _, l := range in.Local {
		if isPairedKey(l.Key) {
			continue
		}
		unpairedLocal = append(unpairedLocal, l)
		if l.Fingerprint != "" && l.Hash != "" {
			byPrint[l.Fingerprint+"/"+l.Hash] = append(byPrint[l.Fingerprint+"/"+l.Hash], l.Key)
		}
	}
	sort.Slice(unpairedLocal, func(i, j int) bool { return unpairedLocal[i].Key < unpairedLocal[j].Key })
	for _, keys := range byPrint {
		sort.Strings(keys)
	}
	intentPrint := map[string][]string{}
	for _, it := range in.State.Intents {
		p.DropIntents = append(p.DropIntents, it.Key)
		if !in.hasLocal(it.Key) && it.Fingerprint != "" {
			// An intent from a version that kept no hash matches by
			// fingerprint alone.
			k := it.Fingerprint + "/" + it.Hash
			intentPrint[k] = append(intentPrint[k], it.Key)
		}
	}
	sort.Strings(p.DropIntents)
	remoteSorted := in.Remote
	byUID := func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) }
	if !slices.IsSortedFunc(remoteSorted, byUID) {
		remoteSorted = slices.Clone(in.Remote)
		slices.SortStableFunc(remoteSorted, byUID)
	}
	for _, r := range remoteSorted {
		if isPairedUID(r.UID) && !gone[r.UID] {
			continue
		}
		if r.Fingerprint != "" && r.Hash != "" {
			content := r.Fingerprint + "/" + r.Hash
			if keys := byPrint[content]; len(keys) > 0 {
				key := keys[0]
				byPrint[content] = keys[1:]
				l, _ := in.LocalMsg(key)
				base, ok := oldBase[key]
				baseKw := oldKw[key]
				if gone[r.UID] {
					pr, _ := ps.byUID(r.UID)
					base, ok = pr.Flags, true
					baseKw = pr.Keywords
					repaired[r.UID] = true
				}
				if !ok {
					base = r.Flags & l.Flags
					baseKw = r.Keywords.Intersect(l.Keywords)
				}
				if _, old := oldPair[key]; old {
					oldFound = true
				}
				p.Pair = append(p.Pair, NewPair{UID: r.UID, Key: key, Base: base, BaseKw: baseKw})
				p.flagSync(r.UID, key, base, r.Flags, l.Flags, baseKw, r.Keywords, l.Keywords)
				newUID[r.UID] = true
				newKey[key] = true
				continue
			}
			for _, k := range []string{content, r.Fingerprint + "/"} {
				if gone[r.UID] {
					break // already paired; DiffPairs decided
				}
				if keys := intentPrint[k]; len(keys) > 0 {
					intentPrint[k] = keys[1:]
					p.ExpungeRemote = append(p.ExpungeRemote, Ref{r.UID, keys[0]})
					newUID[r.UID] = true
					break
				}
			}
			if isPairedUID(r.UID) {
				continue
			}
			if keys := goneByContent[content]; len(keys) > 0 {
				// Deleted locally before the UIDVALIDITY changed.
				oldFound = true
				goneByContent[content] = keys[1:]
				p.ExpungeRemote = append(p.ExpungeRemote, Ref{r.UID, keys[0]})
				newUID[r.UID] = true
				continue
			}
		}
		if gone[r.UID] {
			continue // not in the Maildir under another name: the expunge stands
		}
		p.Download = append(p.Download, Download{UID: r.UID, Flags: r.Flags, Size: r.Size})
	}
	if len(repaired) > 0 {
		var kept []Ref
		for _, x := range p.ExpungeRemote {
			if !repaired[x.UID] {
				kept = append(kept, x)
			}
		}
		p.ExpungeRemote = kept
	}
	downloaded := map[string]int{}
	for _, d := range in.State.Downloads {
		downloaded[d.Fingerprint+"/"+d.Hash]++
		p.DropDownloads = append(p.DropDownloads, d.UID)
	}
	for _, l := range unpairedLocal {
		if newKey[l.Key] {
			continue
		}
		if c := l.Fingerprint + "/" + l.Hash; l.Hash != "" && downloaded[c] > 0 {
			downloaded[c]--
			p.RemoveOrphans = append(p.RemoveOrphans, l.Key)
			continue
		}
		if pr, ok := oldPair[l.Key]; ok && pr.Hash != "" && l.Size != 0 && l.Size == pr.Size && l.ModTime == pr.ModTime && oldFound {
			// Paired before the UIDVALIDITY changed, unchanged since,
			// and its content is not on the server, which still holds
			// other messages paired before (the server renumbered the
			// folder): deleted there. (UID 0: the pair's UID belongs to
			// the old UIDVALIDITY.) Not when the server folder holds
			// none of them, empty or not: a folder deleted and created
			// again starts over, even when mail reached it before this
			// run, and nothing in the Maildir is deleted (README
			// "Conflict rules").
			p.DeleteLocal = append(p.DeleteLocal, Ref{0, l.Key})
			continue
		}
		p.Upload = append(p.Upload, Upload{Key: l.Key, Flags: l.Flags})
	}
}

// GuardMassDeletion holds back the deletions of one side when there are
// at least MassDeleteMin of them and they are more than half of the
// total pairs, or when a deletion on that side is already held (held,
// from the state: a guard decision holds, through later passes of the
// run that uploaded or downloaded meanwhile and through later runs,
// until the user decides), unless allow is set; it says so in p.Blocked
// and lists every held pair in p.HeldBack.
func GuardMassDeletion(p *Plan, total int, held []model.UID, allow bool) {
	p.HeldBack = nil
	if allow {
		return
	}
	isHeld := make(map[model.UID]bool, len(held))
	for _, u := range held {
		isHeld[u] = true
	}
	guard := func(refs []Ref) bool {
		n := len(refs)
		if n >= MassDeleteMin && 2*n > total {
			return true
		}
		for _, x := range refs {
			if isHeld[x.UID] {
				return true
			}
		}
		return false
	}
	hold := func(refs []Ref) {
		for _, x := range refs {
			p.HeldBack = append(p.HeldBack, x.UID)
		}
	}
	// Replacing the server's copy of an edited file deletes it too.
	if remote := append(slices.Clip(p.ExpungeRemote), p.Replace...); guard(remote) {
		what := "gone from the Maildir"
		if len(p.Replace) > 0 {
			what += " or edited there"
		}
		p.Blocked = append(p.Blocked, fmt.Sprintf("folder %q: %d of %d messages are %s; not deleting them on the server (run with --allow-mass-delete to delete them there too, or with --restore to download them again)", p.Folder, len(remote), total, what))
		hold(remote)
		p.ExpungeRemote, p.Replace = nil, nil
	}
	if n := len(p.DeleteLocal); guard(p.DeleteLocal) {
		p.Blocked = append(p.Blocked, fmt.Sprintf("folder %q: %d of %d messages are gone from the server; not deleting them from the Maildir (run with --allow-mass-delete to delete them there too, or with --restore to upload them again)", p.Folder, n, total))
		hold(p.DeleteLocal)
		p.DeleteLocal = nil
	}
	slices.Sort(p.HeldBack)
}

// goneAfterReset returns, when the server's UIDVALIDITY changed, the
// stored pairs whose Maildir file is gone and whose content is known
// (ValidityReset refuses the others).
func goneAfterReset(in *Input) []model.Pair {
	if !ValidityChanged(in.State, in.UIDValidity) {
		return nil
	}
	var out []model.Pair
	for _, pr := range in.State.Pairs {
		if !in.hasLocal(pr.Key) && pr.Hash != "" && pr.Fingerprint != "" {
			out = append(out, pr)
		}
	}
	return out
}

// NeedEditCheck returns the Maildir keys of stored pairs whose file must
// be read (model.LocalMsg Hash, Fingerprint and WireSize filled in) to
// tell whether it was edited in place: its size or mtime is not the
// one the pair remembers, or the pair remembers none (recorded by an
// older version: the check records it), or (known without a stat) its
// inode number is not the one the pair remembers: the file was replaced
// by a rename over its name. A file whose mtime is unknown (ModTime 0:
// not stat'ed this run) and whose inode is the pair's is not read.
func NeedEditCheck(in *Input) []string {
	if ValidityChanged(in.State, in.UIDValidity) {
		return nil
	}
	var out []string
	for _, l := range in.Local {
		pr, ok := in.pairOfKey(l.Key)
		if !ok || l.Hash != "" {
			continue // not paired, or read already
		}
		replaced := l.Ino != 0 && pr.Ino != 0 && l.Ino != pr.Ino
		changed := l.ModTime != 0 && (pr.Size == 0 || pr.Size != l.Size || pr.ModTime != l.ModTime)
		if replaced || changed {
			out = append(out, l.Key)
		}
	}
	return out
}

// edited reports whether the Maildir file l of pair pr holds other
// content than the one paired with the server's message r: its hash is
// not the remembered one, or (a pair that remembers no hash) its size
// with CRLF line endings is not the server's RFC822.SIZE.
func edited(pr model.Pair, l model.LocalMsg, r model.RemoteMsg, rok bool) bool {
	if l.Hash == "" {
		return false
	}
	if pr.Hash != "" {
		return l.Hash != pr.Hash
	}
	return rok && r.Size != 0 && l.WireSize != 0 && l.WireSize != r.Size
}

// editedKeys returns the Maildir keys of pairs whose file was edited in
// place (Edits), once NeedEditCheck's hashes are filled in.
func editedKeys(in *Input) map[string]bool {
	out := map[string]bool{}
	if ValidityChanged(in.State, in.UIDValidity) {
		return out
	}
	for _, pr := range in.State.Pairs {
		l, ok := in.LocalMsg(pr.Key)
		if !ok || l.Hash == "" {
			continue // not read: not edited
		}
		r, rok := in.RemoteMsg(pr.UID)
		if edited(pr, l, r, rok) {
			out[pr.Key] = true
		}
	}
	return out
}

// Edits takes out of pairs those whose Maildir file changed content
// (edited in place: a draft saved again under the same name) and those
// whose key a pair with a higher UID names too (the older copy of a file
// already uploaded again by a run that then stopped): each is replaced
// (Plan.Replace: its old UID is expunged once the file is on the server
// again) or, when the server's message is gone, forgotten (DropPairs). An
// edited file is no longer paired: PairByContent uploads it, or pairs it
// with a copy already on the server. Pairs whose file was only touched,
// or that remember no content yet, get it recorded (Plan.UpdatePairs).
// It returns the pairs that stay.
func Edits(p *Plan, pairs []model.Pair, remote Remotes, local Locals) []model.Pair {
	newest := make(map[string]model.UID, len(pairs))
	for _, pr := range pairs {
		if pr.UID > newest[pr.Key] {
			newest[pr.Key] = pr.UID
		}
	}
	var out []model.Pair // a copy, once a pair is left out
	for i, pr := range pairs {
		l, lok := local(pr.Key)
		r, rok := remote(pr.UID)
		switch {
		case newest[pr.Key] != pr.UID || (lok && edited(pr, l, r, rok)):
			if rok {
				p.Replace = append(p.Replace, Ref{pr.UID, pr.Key})
			} else {
				p.DropPairs = append(p.DropPairs, pr.UID)
			}
			if out == nil {
				out = append(make([]model.Pair, 0, len(pairs)), pairs[:i]...)
			}
			continue
		case lok && l.Hash != "" && l.Size != 0 && (pr.Size != l.Size || pr.ModTime != l.ModTime || pr.Ino != l.Ino || pr.Hash != l.Hash || pr.Fingerprint != l.Fingerprint && l.Fingerprint != ""):
			p.UpdatePairs = append(p.UpdatePairs, pr.WithContent(l))
		case lok && l.Hash == "" && pr.Ino == 0 && l.Ino != 0 && l.ModTime != 0 && pr.Size != 0 && pr.Size == l.Size && pr.ModTime == l.ModTime:
			// Unchanged (stat'ed), recorded before inodes were: record
			// its inode.
			pr.Ino = l.Ino
			p.UpdatePairs = append(p.UpdatePairs, pr)
		}
		if out != nil {
			out = append(out, pr)
		}
	}
	if out == nil {
		return pairs
	}
	return out
}

// pairLookup finds pairs (a subset of an Input's stored pairs, or any
// pairs in tests) by UID and by key: through the Input's index when they
// are its stored pairs, as they are unless a UIDVALIDITY reset or an
// edit took some out, else through maps of their own.
type pairLookup struct {
	in    *Input
	all   bool // pairs are in.State.Pairs
	uid   map[model.UID]int32
	key   map[string]bool
	pairs []model.Pair
}

func newPairLookup(in *Input, pairs []model.Pair) pairLookup {
	stored := in.pairs()
	if len(pairs) == len(stored) && first(pairs) == first(stored) {
		return pairLookup{in: in, all: true, pairs: pairs}
	}
	pl := pairLookup{in: in, pairs: pairs, uid: make(map[model.UID]int32, len(pairs)), key: make(map[string]bool, len(pairs))}
	for i, pr := range pairs {
		pl.uid[pr.UID] = int32(i)
		pl.key[pr.Key] = true
	}
	return pl
}

func (pl pairLookup) byUID(u model.UID) (model.Pair, bool) {
	if pl.all {
		return pl.in.StoredPair(u)
	}
	if i, ok := pl.uid[u]; ok {
		return pl.pairs[i], true
	}
	return model.Pair{}, false
}

func (pl pairLookup) hasKey(k string) bool {
	if pl.all {
		_, ok := pl.in.pairOfKey(k)
		return ok
	}
	return pl.key[k]
}
