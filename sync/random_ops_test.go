package sync

// The actors' operations of the randomized two-client test, as two
// tables (randServerOps, randLocalOps). An actor picks, by weight, one
// of the ops whose ok says it can run now. To add an operation, append
// to a table from an init function in another file:
//
//	func init() { randServerOps = append(randServerOps, randSrvOp{name: "keyword", weight: 2, ...}) }
//
// An op's do runs with the world locked (w.mu) and records in the oracle
// (w.ents, w.folders, w.frozen) what it changed. During a sync
// (concurrent) only ops marked concurrent run, and they leave the oracle
// alone: the world is observed again after such a run (refresh).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
)

// editsSupported turns on the local "edit a draft" op (issue 8 case 16:
// a changed local body is a new message replacing the old). The draft is
// saved as mail clients save it: a new file renamed over the old name.
const editsSupported = true

// randSrvAct is what a server op works on: a logged-in client with
// folder selected.
type randSrvAct struct {
	w          *randWorld
	c          *imapclient.Client
	folders    []string // folders on the server the oracle knows, sorted
	folder     string   // the selected folder
	msgs       []randSrvMsg
	concurrent bool
}

type randSrvOp struct {
	name       string
	weight     int
	concurrent bool // may run while a sync runs
	ok         func(a *randSrvAct) bool
	do         func(a *randSrvAct) error
}

// randLocAct is what a local op works on: folder and its entries.
type randLocAct struct {
	w          *randWorld
	folders    []string // Maildir folders the sync does not skip, sorted
	folder     string
	f          *maildir.Folder
	ents       []maildir.Entry
	concurrent bool
}

type randLocOp struct {
	name       string
	weight     int
	concurrent bool
	ok         func(a *randLocAct) bool
	do         func(a *randLocAct) error
}

func hasMsgs(a *randSrvAct) bool { return len(a.msgs) > 0 }
func hasEnts(a *randLocAct) bool { return len(a.ents) > 0 }

// canRemove: a file may be removed from the folder.
func canRemove(a *randLocAct) bool { return hasEnts(a) }

var randServerOps = []randSrvOp{
	{name: "append", weight: 6, concurrent: true, do: srvAppend},
	{name: "store", weight: 6, concurrent: true, ok: hasMsgs, do: srvStore},
	{name: "expunge", weight: 4, concurrent: true, ok: hasMsgs, do: srvExpungeOp},
	{name: "move", weight: 2, ok: hasMsgs, do: func(a *randSrvAct) error { return srvMoveCopy(a, true) }},
	{name: "copy", weight: 2, ok: hasMsgs, do: func(a *randSrvAct) error { return srvMoveCopy(a, false) }},
	{name: "create folder", weight: 1, ok: func(a *randSrvAct) bool { return a.w.newFolderName() != "" }, do: srvCreate},
	{name: "delete folder", weight: 1, ok: func(a *randSrvAct) bool { return a.w.srv.folderOps && len(a.w.leafFolders(a.folders)) > 0 }, do: srvDelete},
	{name: "rename folder", weight: 1, ok: func(a *randSrvAct) bool {
		return a.w.srv.folderOps && len(a.w.leafFolders(a.folders)) > 0 && a.w.renameTarget() != ""
	}, do: srvRename},
	{name: "recreate folder", weight: 1, ok: func(a *randSrvAct) bool {
		return a.w.srv.folderOps && (len(a.w.recreatable(a.folders)) > 0 || len(a.w.frozenList()) > 0)
	}, do: srvRecreate},
}

var randLocalOps = []randLocOp{
	{name: "deliver", weight: 6, concurrent: true, do: locDeliver},
	{name: "flags", weight: 6, concurrent: true, ok: hasEnts, do: locFlags},
	{name: "delete", weight: 4, concurrent: true, ok: canRemove, do: locDelete},
	{name: "move", weight: 2, ok: canRemove, do: func(a *randLocAct) error { return locMoveCopy(a, true) }},
	{name: "copy", weight: 1, ok: hasEnts, do: func(a *randLocAct) error { return locMoveCopy(a, false) }},
	{name: "create folder", weight: 1, ok: func(a *randLocAct) bool { return a.w.newFolderName() != "" }, do: locCreate},
	{name: "edit in place", weight: 2, ok: func(a *randLocAct) bool { return editsSupported && hasEnts(a) }, do: locEdit},
}

// pickOp returns the index of an op by weight among those allowed.
func (w *randWorld) pickOp(weights []int) int {
	total := 0
	for _, n := range weights {
		total += n
	}
	if total == 0 {
		return -1
	}
	r := w.rng.Intn(total)
	for i, n := range weights {
		if r < n {
			return i
		}
		r -= n
	}
	return -1
}

// ---- folder names ----

var randFolderNames = []string{"Archive", "Lists", "Entwürfe", "Work/Reports", "Spam"}

var randRenameNames = []string{"Renamed", "Old Stuff", "Ablage"}

// newFolderName is a name no folder has or had in this run's oracle, or "".
func (w *randWorld) newFolderName() string {
	var free []string
	for _, n := range randFolderNames {
		if !w.folders[n] {
			free = append(free, n)
		}
	}
	if len(free) == 0 {
		return ""
	}
	return free[w.rng.Intn(len(free))]
}

func (w *randWorld) renameTarget() string {
	for _, n := range randRenameNames {
		if !w.folders[n] {
			return n
		}
	}
	return ""
}

// leafFolders are the folders of list other than INBOX with no folder
// below them (deleting or renaming a parent takes its children along).
func (w *randWorld) leafFolders(list []string) []string {
	var out []string
	for _, f := range list {
		if f == model.Inbox {
			continue
		}
		leaf := true
		for g := range w.folders {
			if strings.HasPrefix(g, f+"/") {
				leaf = false
			}
		}
		if leaf {
			out = append(out, f)
		}
	}
	return out
}

// recreatable are the leaf folders that can be deleted and created
// again.
func (w *randWorld) recreatable(list []string) []string { return w.leafFolders(list) }

// srvName is the server's name of folder (namespace prefix, separator).
func (w *randWorld) srvName(folder string) string {
	if w.fx.srv.dc == nil || folder == model.Inbox {
		return folder
	}
	dc := w.fx.srv.dc
	if dc.Separator != "/" {
		folder = strings.ReplaceAll(folder, "/", dc.Separator)
	}
	return dc.NamespacePrefix + folder
}

// canonName is srvName's inverse.
func (w *randWorld) canonName(name string) string {
	if w.fx.srv.dc == nil || strings.EqualFold(name, model.Inbox) {
		return name
	}
	dc := w.fx.srv.dc
	name = strings.TrimPrefix(name, dc.NamespacePrefix)
	if dc.Separator != "/" {
		name = strings.ReplaceAll(name, dc.Separator, "/")
	}
	return name
}

// ---- server ops ----

func srvAppend(a *randSrvAct) error {
	w := a.w
	id := w.next
	w.next++
	flags := w.randFlags()
	body := model.ToCRLF(w.msg(id, "server"))
	w.log = append(w.log, fmt.Sprintf("server: APPEND r%d to %q flags %q", id, a.folder, flags.Letters()))
	aflags := flags
	if w.srv.appendDropsFlags {
		aflags = 0
	}
	cmd := a.c.Append(w.srvName(a.folder), int64(len(body)), &imap.AppendOptions{Flags: imapFlags(aflags), Time: time.Date(2024, 9, 2, 10, 0, 0, 0, time.UTC)})
	if _, err := cmd.Write(body); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if _, err := cmd.Wait(); err != nil {
		return fmt.Errorf("append to %q: %w", a.folder, err)
	}
	if aflags != flags {
		msgs, err := w.srvList(a.c, a.folder)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.id == id {
				if err := a.c.Store(imap.UIDSetNum(imap.UID(m.uid)), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: imapFlags(flags)}, nil).Close(); err != nil {
					return fmt.Errorf("store: %w", err)
				}
			}
		}
	}
	if !a.concurrent {
		e := w.fresh(randKey{a.folder, id})
		e.srv, e.sf = true, flags
	}
	return nil
}

func srvStore(a *randSrvAct) error {
	w := a.w
	m := a.msgs[w.rng.Intn(len(a.msgs))]
	flag := model.Flags(1) << w.rng.Intn(6) & w.srv.flags
	if flag == 0 {
		flag = model.FlagFlagged
	}
	add := m.flags&flag == 0
	sop := imap.StoreFlagsAdd
	if !add {
		sop = imap.StoreFlagsDel
	}
	w.log = append(w.log, fmt.Sprintf("server: STORE %q uid %d (r%d) %v %s", a.folder, m.uid, m.id, map[bool]string{true: "+", false: "-"}[add], flag.IMAP()))
	if err := a.c.Store(imap.UIDSetNum(imap.UID(m.uid)), &imap.StoreFlags{Op: sop, Silent: true, Flags: imapFlags(flag)}, nil).Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !a.concurrent {
		w.ent(randKey{a.folder, m.id}).sf = m.flags ^ flag
	}
	return nil
}

func srvExpungeOp(a *randSrvAct) error {
	w := a.w
	m := a.msgs[w.rng.Intn(len(a.msgs))]
	w.log = append(w.log, fmt.Sprintf("server: EXPUNGE %q uid %d (r%d)", a.folder, m.uid, m.id))
	if err := w.srvExpunge(a.c, m.uid); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	if !a.concurrent {
		w.ent(randKey{a.folder, m.id}).srv = false
	}
	return nil
}

func srvMoveCopy(a *randSrvAct, move bool) error {
	w := a.w
	m := a.msgs[w.rng.Intn(len(a.msgs))]
	var dsts []string
	for _, f := range a.folders {
		if f != a.folder && w.free(f, m.id) {
			dsts = append(dsts, f)
		}
	}
	if len(dsts) == 0 {
		w.log = append(w.log, "server: (no folder to move or copy to)")
		return nil
	}
	dst := dsts[w.rng.Intn(len(dsts))]
	set := imap.UIDSetNum(imap.UID(m.uid))
	if move {
		w.log = append(w.log, fmt.Sprintf("server: MOVE %q uid %d (r%d) to %q", a.folder, m.uid, m.id, dst))
		if a.c.Caps().Has(imap.CapMove) {
			if _, err := a.c.Move(set, w.srvName(dst)).Wait(); err != nil {
				return fmt.Errorf("move: %w", err)
			}
		} else {
			if _, err := a.c.Copy(set, w.srvName(dst)).Wait(); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
			if err := w.srvExpunge(a.c, m.uid); err != nil {
				return fmt.Errorf("expunge: %w", err)
			}
		}
		w.ent(randKey{a.folder, m.id}).srv = false
	} else {
		w.log = append(w.log, fmt.Sprintf("server: COPY %q uid %d (r%d) to %q", a.folder, m.uid, m.id, dst))
		if _, err := a.c.Copy(set, w.srvName(dst)).Wait(); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
	}
	e := w.fresh(randKey{dst, m.id})
	e.srv, e.sf = true, m.flags
	return nil
}

// unselect leaves the selected folder, so that it can be deleted or
// renamed (imap4d and Dovecot refuse neither, but a selected folder
// that vanishes is no state to leave the client in).
func (a *randSrvAct) unselect() error {
	if err := a.c.Unselect().Wait(); err != nil {
		return fmt.Errorf("unselect: %w", err)
	}
	a.w.curFolder = ""
	return nil
}

func srvCreate(a *randSrvAct) error {
	w := a.w
	name := w.newFolderName()
	w.log = append(w.log, fmt.Sprintf("server: CREATE %q", name))
	if err := a.c.Create(w.srvName(name), nil).Wait(); err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	w.folders[name] = true
	return nil
}

// srvDelete deletes a folder on the server. README "Conflict rules": a
// folder deleted on one side is not deleted on the other; the sync skips
// it with a warning, so its local copy stays as it is (frozen).
func srvDelete(a *randSrvAct) error {
	w := a.w
	leaves := w.leafFolders(a.folders)
	name := leaves[w.rng.Intn(len(leaves))]
	w.log = append(w.log, fmt.Sprintf("server: DELETE %q", name))
	if err := a.unselect(); err != nil {
		return err
	}
	if err := a.c.Delete(w.srvName(name)).Wait(); err != nil {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	w.freeze(name)
	return nil
}

// freeze records that folder is gone from the server. Synced before
// (the state knows it): the sync skips it, its Maildir copy keeps what
// it has. Not synced yet but in the Maildir: a folder new there, created
// on the server again. Nowhere else: gone.
func (w *randWorld) freeze(name string) {
	local := false
	if f, err := w.fx.md.Folder(name); err == nil {
		local = f.Exists()
	}
	switch {
	case !local:
		delete(w.folders, name)
	case w.synced[name]:
		w.frozen[name] = true
	}
	for k, e := range w.ents {
		if k.folder == name {
			e.srv = false
			if !w.frozen[name] {
				e.paired, e.delL, e.delS = false, false, false
			}
		}
	}
}

// srvRename renames a folder on the server: the new name is a folder
// new on the server (downloaded), the old one is gone from the server
// (frozen locally, as after a DELETE).
func srvRename(a *randSrvAct) error {
	w := a.w
	leaves := w.leafFolders(a.folders)
	from := leaves[w.rng.Intn(len(leaves))]
	to := w.renameTarget()
	w.log = append(w.log, fmt.Sprintf("server: RENAME %q to %q", from, to))
	if err := a.unselect(); err != nil {
		return err
	}
	if err := a.c.Rename(w.srvName(from), w.srvName(to), nil).Wait(); err != nil {
		return fmt.Errorf("rename %q: %w", from, err)
	}
	w.folders[to] = true
	for k, e := range w.ents {
		if k.folder == from && e.srv {
			n := w.fresh(randKey{to, k.id})
			n.srv, n.sf = true, e.sf
		}
	}
	w.freeze(from)
	return nil
}

// srvRecreate gives a folder a new UIDVALIDITY: DELETE and CREATE of a
// folder on both sides, or CREATE of a folder deleted on the server
// before (frozen). Its Maildir messages are no longer paired with
// anything on the server folder: if it is still empty at the next sync,
// they are uploaded again; if another message was delivered to it
// first, the pairs' remembered content decides, as after any UIDVALIDITY
// change, and the files unchanged since are deleted (README "Conflict
// rules").
func srvRecreate(a *randSrvAct) error {
	w := a.w
	leaves := w.recreatable(a.folders)
	frozen := w.frozenList()
	var name string
	if n := w.rng.Intn(len(leaves) + len(frozen)); n < len(leaves) {
		name = leaves[n]
		w.log = append(w.log, fmt.Sprintf("server: DELETE and CREATE %q (new UIDVALIDITY)", name))
		if err := a.unselect(); err != nil {
			return err
		}
		if err := a.c.Delete(w.srvName(name)).Wait(); err != nil {
			return fmt.Errorf("delete %q: %w", name, err)
		}
	} else {
		name = frozen[n-len(leaves)]
		w.log = append(w.log, fmt.Sprintf("server: CREATE %q again (deleted before)", name))
	}
	if err := a.c.Create(w.srvName(name), nil).Wait(); err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	// GNU Mailutils imap4d gives a folder created again within the same
	// second the UIDVALIDITY it had (the time), which RFC 3501 forbids:
	// no client can then tell the new folder's UID 1 from the old one's.
	// Not a case to test: create it again a second later.
	if old, ok := w.validity[name]; ok {
		st, err := a.c.Status(w.srvName(name), &imap.StatusOptions{UIDValidity: true}).Wait()
		if err != nil {
			return fmt.Errorf("status %q: %w", name, err)
		}
		if st.UIDValidity == old {
			w.log = append(w.log, fmt.Sprintf("  (the server kept UIDVALIDITY %d: created again a second later)", old))
			if err := a.c.Delete(w.srvName(name)).Wait(); err != nil {
				return fmt.Errorf("delete %q: %w", name, err)
			}
			time.Sleep(time.Second)
			if err := a.c.Create(w.srvName(name), nil).Wait(); err != nil {
				return fmt.Errorf("create %q: %w", name, err)
			}
		}
	}
	delete(w.frozen, name)
	w.renumbered[name] = true
	for k, e := range w.ents {
		if k.folder == name {
			// Gone from the server. The pairs stay in the oracle as in
			// the state: whether the next sync starts the folder over
			// (uploads them) or deletes the unchanged ones depends on
			// whether the new folder is still empty then
			// (renumberedOnServer decides at the settling run).
			e.srv = false
		}
	}
	return nil
}

// ---- local ops ----

func locDeliver(a *randLocAct) error {
	w := a.w
	id := w.next
	w.next++
	flags := w.randFlags()
	if w.rng.Intn(2) == 0 {
		flags = 0 // new/
	}
	w.log = append(w.log, fmt.Sprintf("local: deliver r%d to %q flags %q", id, a.folder, flags.Letters()))
	if _, err := a.f.Deliver(w.msg(id, "local"), flags, time.Date(2024, 9, 2, 11, 0, 0, 0, time.UTC)); err != nil {
		return err
	}
	if !a.concurrent {
		e := w.fresh(randKey{a.folder, id})
		e.loc, e.lf = true, flags
	}
	return nil
}

// pick reads a random entry: its body, entry and oracle id.
func (a *randLocAct) pick() ([]byte, maildir.Entry, int, error) {
	en := a.ents[a.w.rng.Intn(len(a.ents))]
	body, en, err := a.f.ReadFile(en.Key)
	if err != nil {
		return nil, en, 0, fmt.Errorf("local: read %s: %w", en.Key, err)
	}
	return body, en, randID(body), nil
}

func locFlags(a *randLocAct) error {
	w := a.w
	_, en, id, err := a.pick()
	if err != nil {
		return err
	}
	flag := model.Flags(1) << w.rng.Intn(6) & w.srv.flags
	if flag == 0 {
		flag = model.FlagSeen & w.srv.flags
		if flag == 0 {
			flag = model.FlagFlagged
		}
	}
	nf := en.Flags ^ flag
	w.log = append(w.log, fmt.Sprintf("local: flags of %q %s (r%d) %q → %q", a.folder, en.Key, id, en.Flags.Letters(), nf.Letters()))
	if _, err := a.f.SetFlags(en.Key, nf); err != nil {
		return err
	}
	if !a.concurrent {
		w.ent(randKey{a.folder, id}).lf = nf
	}
	return nil
}

func locDelete(a *randLocAct) error {
	w := a.w
	_, en, id, err := a.pick()
	if err != nil {
		return err
	}
	w.log = append(w.log, fmt.Sprintf("local: delete %q %s (r%d)", a.folder, en.Key, id))
	if err := a.f.Remove(en.Key); err != nil {
		return err
	}
	if !a.concurrent {
		w.ent(randKey{a.folder, id}).loc = false
	}
	return nil
}

func locMoveCopy(a *randLocAct, move bool) error {
	w := a.w
	body, en, id, err := a.pick()
	if err != nil {
		return err
	}
	var dsts []string
	for _, d := range a.folders {
		if d != a.folder && w.free(d, id) {
			dsts = append(dsts, d)
		}
	}
	if len(dsts) == 0 {
		w.log = append(w.log, "local: (no folder to move or copy to)")
		return nil
	}
	dst := dsts[w.rng.Intn(len(dsts))]
	df, err := w.fx.md.CreateFolder(dst)
	if err != nil {
		return err
	}
	verb := "copy"
	if move {
		verb = "move"
	}
	w.log = append(w.log, fmt.Sprintf("local: %s %q %s (r%d) to %q", verb, a.folder, en.Key, id, dst))
	if _, err := df.Deliver(body, en.Flags, en.ModTime); err != nil {
		return err
	}
	if move {
		if err := a.f.Remove(en.Key); err != nil {
			return err
		}
		w.ent(randKey{a.folder, id}).loc = false
	}
	e := w.fresh(randKey{dst, id})
	e.loc, e.lf = true, en.Flags
	return nil
}

func locCreate(a *randLocAct) error {
	w := a.w
	name := w.newFolderName()
	w.log = append(w.log, fmt.Sprintf("local: create folder %q", name))
	if _, err := w.fx.md.CreateFolder(name); err != nil {
		return err
	}
	w.folders[name] = true
	return nil
}

// locEdit rewrites a message's body under the same file name, as a mail
// client re-saving a draft does. The edited body is a new message (new
// id): the old one is gone from the Maildir.
func locEdit(a *randLocAct) error {
	w := a.w
	_, en, id, err := a.pick()
	if err != nil {
		return err
	}
	nid := w.next
	w.next++
	w.log = append(w.log, fmt.Sprintf("local: edit %q %s (r%d) in place, now r%d", a.folder, en.Key, id, nid))
	path := a.f.EntryPath(en)
	tmp := filepath.Join(a.f.Path(), "tmp", "edit-"+en.Key)
	if err := os.WriteFile(tmp, w.msg(nid, "local edit"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !a.concurrent {
		w.ent(randKey{a.folder, id}).loc = false
		e := w.fresh(randKey{a.folder, nid})
		e.loc, e.lf = true, en.Flags
	}
	return nil
}

// ---- the actors ----

// serverOp does one random change as another IMAP client would.
// concurrent: a sync may be running (errors are logged, not fatal).
func (w *randWorld) serverOp(concurrent bool) error {
	c, err := w.dial()
	if err != nil {
		return fmt.Errorf("server actor: login: %w", err)
	}
	defer randLogout(c)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return fmt.Errorf("server actor: list: %w", err)
	}
	onServer := map[string]bool{}
	for _, mb := range list {
		onServer[w.canonName(mb.Mailbox)] = true
	}
	// The folders the server has; a folder made in the Maildir and not
	// synced yet is not one.
	a := &randSrvAct{w: w, c: c, concurrent: concurrent}
	for _, f := range w.folderList() {
		if onServer[f] && !w.frozen[f] {
			a.folders = append(a.folders, f)
		}
	}
	a.folder = a.folders[w.rng.Intn(len(a.folders))]
	if a.msgs, err = w.srvList(c, a.folder); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	weights := make([]int, len(randServerOps))
	for i, op := range randServerOps {
		if (!concurrent || op.concurrent) && (op.ok == nil || op.ok(a)) {
			weights[i] = op.weight
		}
	}
	i := w.pickOp(weights)
	if i < 0 {
		return nil
	}
	return randServerOps[i].do(a)
}

// localOp does one random change as a mail client on the Maildir would.
func (w *randWorld) localOp(concurrent bool) error {
	a := &randLocAct{w: w, concurrent: concurrent}
	for _, f := range w.folderList() {
		if !w.frozen[f] {
			a.folders = append(a.folders, f)
		}
	}
	a.folder = a.folders[w.rng.Intn(len(a.folders))]
	var err error
	if a.f, err = w.fx.md.CreateFolder(a.folder); err != nil {
		return err
	}
	if a.ents, err = a.f.Scan(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	weights := make([]int, len(randLocalOps))
	for i, op := range randLocalOps {
		if (!concurrent || op.concurrent) && (op.ok == nil || op.ok(a)) {
			weights[i] = op.weight
		}
	}
	i := w.pickOp(weights)
	if i < 0 {
		return nil
	}
	return randLocalOps[i].do(a)
}
