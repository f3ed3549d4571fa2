package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	mdir, err := maildir.OpenLayout(acct.Maildir, acct.Layout)
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
	sizeDiff := map[model.UID][2]int64{} // server, Maildir: decided by the content check
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
		fh, en, err := f.Open(p.Key)
		if errors.Is(err, os.ErrNotExist) {
			diff(p.UID, p.Key, "file vanished while verifying")
			continue
		}
		if err != nil {
			return err
		}
		_, hash, size, err := model.SumLocal(fh, en.Size) // streamed, not held
		fh.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(f.Path(), en.Dir, en.Name), err)
		}
		// A file whose size or mtime moved and whose content is not the
		// one paired was edited in place (a draft saved again): a change
		// the next sync uploads, not a corruption.
		if p.Hash != "" && (l.Size != p.Size || l.ModTime != p.ModTime) && hash != p.Hash {
			diff(p.UID, p.Key, "edited locally, to be uploaded by the next sync that checks this folder (within the hour, or now with sync --full)")
			continue
		}
		if size != r.Size {
			// mbsync's X-TUID header line (in the Maildir file or in
			// the server's copy) changes the size but not the content
			// as model.ContentHash sees it: the content check decides.
			switch {
			case !opts.Quick:
				sizeDiff[p.UID] = [2]int64{r.Size, size}
			case !localHasTUID(f, p.Key):
				diff(p.UID, p.Key, "size differs: server %d, Maildir %d", r.Size, size)
				continue
			}
		}
		if !opts.Quick {
			localHash[p.UID] = hash
			fetch = append(fetch, p.UID)
		}
	}
	keyOf := map[model.UID]string{}
	for _, p := range st.Pairs {
		keyOf[p.UID] = p.Key
	}
	if len(fetch) > 0 {
		err := c.FetchBodies(ctx, fetch, func(m model.Message) error {
			raw := sha256.New() // of the exact bytes: a server copy with a bare LF differs
			content, tuid, err := model.HashReaderTUID(io.TeeReader(m.Body, raw))
			if err != nil {
				return err
			}
			switch h := hex.EncodeToString(raw.Sum(nil)); {
			case h == localHash[m.UID]:
			case tuid && content == localHash[m.UID]:
				// equal but for mbsync's X-TUID line in the server's copy
			case sizeDiff[m.UID] != [2]int64{}:
				diff(m.UID, keyOf[m.UID], "size differs: server %d, Maildir %d", sizeDiff[m.UID][0], sizeDiff[m.UID][1])
			default:
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

// localHasTUID reports whether the Maildir file of key has an X-TUID
// header line (mbsync's), reading at most its first 256 KiB.
func localHasTUID(f LocalFolder, key string) bool {
	fh, _, err := f.Open(key)
	if err != nil {
		return false
	}
	defer fh.Close()
	head, _ := io.ReadAll(io.LimitReader(fh, 256<<10))
	return model.HasTUID(head)
}
