package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
	"github.com/mailsync/mailsync/sync/plan"
)

// VerifyOptions are the switches of Verify.
type VerifyOptions struct {
	// Quick compares sizes and flags only, without fetching bodies.
	Quick bool
}

// Difference is one way the two sides disagree.
type Difference struct {
	Folder string `json:"folder"`
	UID    uint32 `json:"uid,omitempty"`
	Key    string `json:"key,omitempty"`
	What   string `json:"what"`
}

func (d Difference) String() string {
	s := fmt.Sprintf("%s:", d.Folder)
	if d.UID != 0 {
		s += fmt.Sprintf(" uid %d", d.UID)
	}
	if d.Key != "" {
		s += " " + d.Key
	}
	return s + ": " + d.What
}

// Report is what Verify found.
type Report struct {
	Account     string       `json:"account"`
	Folders     int          `json:"folders"`
	Checked     int          `json:"checked"`
	Differences []Difference `json:"differences"`
}

// Verify compares the server and the Maildir of an account without
// changing either: bodies are fetched with BODY.PEEK and the folders are
// opened with EXAMINE.
func Verify(ctx context.Context, acct Account, opts VerifyOptions) (*Report, error) {
	rep := &Report{Account: acct.Name}
	// Log in first: a failed login must not create the state file.
	ic, err := imapconn.Dial(ctx, acct.IMAP)
	if err != nil {
		return rep, err
	}
	defer ic.Close()
	sdb, err := statedb.Open(acct.StatePath)
	if err != nil {
		return rep, err
	}
	defer sdb.Close()
	mdir, err := maildir.Open(acct.Maildir)
	if err != nil {
		return rep, err
	}
	return verify(ctx, acct, opts, ic, maildirTree{mdir}, sdb)
}

// verify is Verify on the three ports.
func verify(ctx context.Context, acct Account, opts VerifyOptions, c Remote, md Local, db State) (*Report, error) {
	rep := &Report{Account: acct.Name}

	remoteList, _, err := c.ListFolders(ctx)
	if err != nil {
		return rep, err
	}
	localList, err := md.Folders()
	if err != nil {
		return rep, err
	}
	stateList, _ := db.Folders()
	// The same folder decisions as a sync; what a sync would create,
	// skip or forget is a difference here.
	decisions, _ := plan.Folders(plan.FolderInput{Remote: remoteList, Local: localList, Known: stateList,
		Selection: acct.selection(), IncludeAllMail: acct.IncludeAllMail})
	for _, d := range decisions {
		name := d.Name
		diff := func(uid model.UID, key, format string, args ...any) {
			rep.Differences = append(rep.Differences, Difference{Folder: name, UID: uint32(uid), Key: key, What: fmt.Sprintf(format, args...)})
		}
		switch d.Action {
		case plan.Forget:
			diff(0, "", "in the state but on neither side")
			continue
		case plan.CreateRemote, plan.SkipRemoteGone, plan.SkipNoSelect:
			diff(0, "", "only in the Maildir")
			continue
		case plan.CreateLocal, plan.SkipLocalGone:
			diff(0, "", "only on the server")
			continue
		case plan.CreateInbox:
			continue
		}
		rep.Folders++
		if err := verifyFolder(ctx, c, db, md, name, opts, rep, diff); err != nil {
			return rep, fmt.Errorf("folder %q: %w", name, err)
		}
	}
	return rep, nil
}

func verifyFolder(ctx context.Context, c Remote, db State, md Local, name string, opts VerifyOptions, rep *Report,
	diff func(uid model.UID, key, format string, args ...any)) error {
	st, err := db.Load(name)
	if err != nil {
		return err
	}
	status, err := c.Select(ctx, name, true)
	if err != nil {
		return err
	}
	if plan.ValidityChanged(st, status.UIDValidity) {
		diff(0, "", "UIDVALIDITY is %d on the server, %d in the state: the next sync re-pairs by content", status.UIDValidity, st.UIDValidity)
		return nil
	}
	// The flags the server cannot store stay in the Maildir only; the
	// state records them (EXAMINE's PERMANENTFLAGS is empty).
	unkept := st.Unkept
	// A full listing (plan.ListFull): verify trusts no shortcut.
	msgs, err := c.ListMessages(ctx, 0)
	if err != nil {
		return err
	}
	f, err := md.Folder(name)
	if err != nil {
		return err
	}
	entries, err := f.Scan()
	if err != nil {
		return err
	}
	remote := map[model.UID]model.RemoteMsg{}
	for _, m := range msgs {
		remote[m.UID] = m
	}
	kw, err := f.Keywords()
	if err != nil {
		return err
	}
	local := map[string]model.LocalMsg{}
	for _, l := range localMsgs(entries, kw) {
		local[l.Key] = l
	}
	// Keywords that stay on one side by design (the server cannot store
	// them, or the Maildir has no letter left: the sync said so) are no
	// difference.
	full := len(kw.All()) >= maildir.MaxKeywords
	synced := func(k string) bool {
		if st.OneSided.Has(k) {
			return false
		}
		_, named := kw.Letter(k)
		return named || !full
	}
	pairedUID := map[model.UID]bool{}
	pairedKey := map[string]bool{}
	localHash := map[model.UID]string{}
	var fetch []model.UID
	for _, p := range st.Pairs {
		pairedUID[p.UID] = true
		pairedKey[p.Key] = true
		r, rok := remote[p.UID]
		l, lok := local[p.Key]
		switch {
		case !rok && !lok:
			diff(p.UID, p.Key, "in the state, gone from both sides")
			continue
		case !rok:
			diff(p.UID, p.Key, "gone from the server, still in the Maildir")
			continue
		case !lok:
			diff(p.UID, p.Key, "gone from the Maildir, still on the server")
			continue
		}
		rep.Checked++
		if r.Flags&^unkept != l.Flags&^unkept {
			// A flag the server cannot store stays in the Maildir only.
			diff(p.UID, p.Key, "flags differ: server %s, Maildir %s", r.Flags, l.Flags)
		}
		if rk, lk := r.Keywords.Filter(synced), l.Keywords.Filter(synced); !rk.Equal(lk) {
			diff(p.UID, p.Key, "keywords differ: server %s, Maildir %s", rk, lk)
		}
		data, _, err := f.ReadFile(p.Key)
		if errors.Is(err, os.ErrNotExist) {
			diff(p.UID, p.Key, "file vanished while verifying")
			continue
		}
		if err != nil {
			return err
		}
		// A file whose size or mtime moved and whose content is not the
		// one paired was edited in place (a draft saved again): a change
		// the next sync uploads, not a corruption.
		if p.Hash != "" && (l.Size != p.Size || l.ModTime != p.ModTime) && model.ContentHash(data) != p.Hash {
			diff(p.UID, p.Key, "edited locally, will be uploaded on the next sync")
			continue
		}
		if size := model.CRLFSize(data); size != r.Size {
			diff(p.UID, p.Key, "size differs: server %d, Maildir %d", r.Size, size)
			continue
		}
		if !opts.Quick {
			localHash[p.UID] = model.ContentHash(data)
			fetch = append(fetch, p.UID)
		}
	}
	keyOf := map[model.UID]string{}
	for _, p := range st.Pairs {
		keyOf[p.UID] = p.Key
	}
	if len(fetch) > 0 {
		err := c.FetchBodies(ctx, fetch, func(m model.Message) error {
			sum := sha256.Sum256(m.Body)
			if hex.EncodeToString(sum[:]) != localHash[m.UID] {
				diff(m.UID, keyOf[m.UID], "content differs")
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, m := range msgs {
		if !pairedUID[m.UID] {
			diff(m.UID, "", "only on the server (not synced yet)")
		}
	}
	for _, en := range entries {
		if !pairedKey[en.Key] {
			diff(0, en.Key, "only in the Maildir (not synced yet)")
		}
	}
	return nil
}
