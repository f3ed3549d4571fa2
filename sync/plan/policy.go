package plan

import (
	"fmt"

	"github.com/mailsync/mailsync/model"
)

// Direction says which side a run may change.
type Direction int

// The directions.
const (
	// Both: a two-way sync (the default).
	Both Direction = iota
	// Pull: the server is never changed (no APPEND, STORE, EXPUNGE or
	// CREATE); the Maildir follows it.
	Pull
	// Push: the Maildir is never changed; the server follows it.
	Push
)

func (d Direction) String() string {
	switch d {
	case Pull:
		return "pull"
	case Push:
		return "push"
	}
	return "both"
}

// ParseDirection reads "both", "pull" or "push".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "both", "":
		return Both, nil
	case "pull":
		return Pull, nil
	case "push":
		return Push, nil
	}
	return Both, fmt.Errorf("%q is not one of both, pull, push", s)
}

// Deletions says what a message deleted on one side does to the other.
type Deletions int

// The deletion policies.
const (
	// Propagate: it is deleted on the other side too (the default).
	Propagate Deletions = iota
	// Keep: it stays on the other side and is no longer synced; it is
	// never copied back.
	Keep
)

func (d Deletions) String() string {
	if d == Keep {
		return "keep"
	}
	return "propagate"
}

// ParseDeletions reads "propagate" or "keep".
func ParseDeletions(s string) (Deletions, error) {
	switch s {
	case "propagate", "":
		return Propagate, nil
	case "keep":
		return Keep, nil
	}
	return Propagate, fmt.Errorf("%q is not one of propagate, keep", s)
}

// Policy is the account's sync policy. The zero value is a two-way sync
// that propagates deletions.
type Policy struct {
	Direction Direction
	Deletions Deletions
	// Restore copies back, instead of deleting, what is gone from one
	// side: a message gone from the Maildir is downloaded again, one gone
	// from the server is uploaded again (as far as Direction lets the
	// run change that side), and the pairs are renewed.
	Restore bool
}

// CanChangeServer reports whether the policy lets a run change the
// server at all (folders included).
func (pol Policy) CanChangeServer() bool { return pol.Direction != Pull }

// CanChangeLocal reports whether the policy lets a run change the
// Maildir at all (folders included).
func (pol Policy) CanChangeLocal() bool { return pol.Direction != Push }

// ApplyPolicy filters a plan made by DiffPairs and PairByContent (a
// two-way plan that propagates deletions) down to what in.Policy allows.
// Build calls it before GuardMassDeletion, so that the guard sees only
// the deletions that will be propagated.
//
// What each policy does with each part of the plan:
//
//   - Pull: no Upload; flags are the server's (FlagSync.Target is the
//     server's flags, but for those the server cannot store), so a local
//     flag change is undone by the next pull: the server wins.
//   - Push: no Download and no orphan removal; flags are the Maildir's,
//     so a flag changed on the server is set back by the next push.
//   - A message gone from one side (ExpungeRemote, DeleteLocal):
//     with Restore, and when the side it is gone from may be changed, it
//     is copied back (Download or Upload) and its old pair dropped.
//     Otherwise it is deleted on the other side when Deletions is
//     Propagate and the direction lets the run change that side.
//     Otherwise the deletion is not carried out and the survivor is
//     never copied back: when the direction alone keeps it from being
//     copied back (a message gone from the server under Pull, stays in
//     the Maildir and is never uploaded; one gone from the Maildir
//     under Push) its pair is dropped and it is forgotten; else the
//     pair stays as the memory that its other side was deleted (the
//     next run plans the same deletion and drops it again).
func ApplyPolicy(p *Plan, in *Input) {
	pol := in.Policy
	if pol == (Policy{}) {
		return
	}
	isPair := func(u model.UID) bool { _, ok := in.StoredPair(u); return ok }

	if pol.Direction == Pull {
		p.Upload = nil
	}
	if pol.Direction == Push {
		p.Download = nil
		// Files of interrupted downloads keep their intents, so that
		// they are never taken for new and uploaded.
		p.RemoveOrphans, p.DropDownloads = nil, nil
	}

	// Gone from the Maildir, on the server.
	var expunge []Ref
	for _, x := range p.ExpungeRemote {
		r, onServer := in.RemoteMsg(x.UID)
		switch {
		case pol.Restore && pol.CanChangeLocal() && onServer:
			p.Download = append(p.Download, Download{UID: x.UID, Flags: r.Flags, Size: r.Size})
			if isPair(x.UID) {
				p.DropPairs = append(p.DropPairs, x.UID)
			}
		case pol.Deletions == Propagate && pol.CanChangeServer():
			expunge = append(expunge, x)
		case pol.Direction == Push && isPair(x.UID):
			p.DropPairs = append(p.DropPairs, x.UID) // never downloaded under push
		}
	}
	p.ExpungeRemote = expunge

	// Gone from the server, in the Maildir.
	var del []Ref
	for _, x := range p.DeleteLocal {
		l, inMaildir := in.LocalMsg(x.Key)
		switch {
		case pol.Restore && pol.CanChangeServer() && inMaildir:
			p.Upload = append(p.Upload, Upload{Key: x.Key, Flags: l.Flags})
			p.DropPairs = append(p.DropPairs, x.UID)
		case pol.Deletions == Propagate && pol.CanChangeLocal():
			del = append(del, x)
		case pol.Direction == Pull:
			p.DropPairs = append(p.DropPairs, x.UID) // never uploaded under pull
		}
	}
	p.DeleteLocal = del

	if pol.Direction == Pull {
		// An edited file is a local change: not sent.
		p.Replace = nil
	}
	if pol.Direction != Both {
		var flags []FlagSync
		u := p.Unkept
		for _, s := range p.Flags {
			var kt model.Keywords
			if pol.Direction == Pull {
				s.Target = s.Remote&^u | s.Local&u
				kt = s.KwRemote.Filter(func(n string) bool { return !p.localOnly(n) }).Union(s.KwLocal.Filter(p.localOnly))
			} else {
				s.Target = s.Local
				kt = s.KwLocal.Filter(func(n string) bool { return !p.serverOnly(n) }).Union(s.KwRemote.Filter(p.serverOnly))
			}
			if p.setKeywordTarget(&s, kt) {
				flags = append(flags, s)
			}
		}
		p.Flags = flags
	}
}
