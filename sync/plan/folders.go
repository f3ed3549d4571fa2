package plan

import (
	"sort"
	"strings"

	"github.com/mailsync/mailsync/internal/folderpat"
	"github.com/mailsync/mailsync/model"
)

// FolderInput is what the folder-level decision looks at: the server's
// folder listing, the Maildir's folder names, the folders the state
// remembers, and the account's folder switches.
type FolderInput struct {
	Remote []model.RemoteFolder
	Local  []string
	Known  []string
	// Selection is the account's folder selection (config folders and
	// exclude); nil selects every folder.
	Selection *folderpat.Set
	// IncludeAllMail syncs folders marked \All.
	IncludeAllMail bool
	// Delimiter is the server's hierarchy delimiter; "" when unknown or
	// flat. A Maildir folder with a level containing it (other than "/")
	// cannot be a server folder: the server would split that level.
	Delimiter string
}

// FolderAction is what to do with one folder.
type FolderAction int

// The folder actions. The Skip actions change nothing and are reported to
// the user as warnings.
const (
	// Sync: the folder is on both sides.
	Sync FolderAction = iota + 1
	// CreateLocal: new on the server; create the Maildir folder, then sync.
	CreateLocal
	// CreateRemote: new in the Maildir; create it on the server, then sync.
	CreateRemote
	// SkipLocalGone: synced before, its Maildir directory is gone; nothing
	// is deleted on the server.
	SkipLocalGone
	// SkipRemoteGone: synced before, gone from the server; the local copy
	// is kept.
	SkipRemoteGone
	// SkipNoSelect: only in the Maildir, and the server has the name as a
	// level that cannot hold messages (\Noselect).
	SkipNoSelect
	// Forget: synced before, gone from both sides; drop its state.
	Forget
	// CreateInbox: neither side has an INBOX yet (an empty account and a
	// new Maildir): create the Maildir's root, which is its INBOX. The
	// folder is not synced in this run.
	CreateInbox
	// SkipUnrepresentable: in the Maildir, not on the server, and a
	// level of its name contains the server's delimiter (Maildir "v1.2"
	// on a server whose delimiter is "."): created there it would become
	// "v1/2", a different folder, and be downloaded again on every run.
	// Nothing is copied either way.
	SkipUnrepresentable
	// SkipCaseClash: in the Maildir, not on the server, never synced,
	// and its name differs only in letter case from another folder's, or
	// begins with a spelling of INBOX other than "INBOX" ("Inbox/sub").
	// Only the name INBOX is case-insensitive, but servers differ (Dovecot
	// folds "Inbox/sub" into "INBOX/sub"; Exchange and Gmail ignore case
	// everywhere): created there it could merge into the other folder.
	SkipCaseClash
)

// FolderDecision is the decision for one folder.
type FolderDecision struct {
	Name   string
	Action FolderAction
}

// Folders decides, for every folder any side or the state names, what
// the run does with it, sorted by name. Excluded folders get no
// decision. A folder that was synced before and is now gone from one side
// is never deleted on the other. AllMail lists the server's \All folders
// left out because IncludeAllMail is off (for a note to the user).
func Folders(in FolderInput) (out []FolderDecision, allMail []string) {
	excluded := func(name string) bool { return !in.Selection.Match(name) }
	remote := map[string]bool{}
	unselectable := map[string]bool{}
	for _, f := range in.Remote {
		if excluded(f.Name) {
			continue
		}
		if f.NoSelect {
			unselectable[f.Name] = true
			continue
		}
		if f.SpecialUse == `\All` && !in.IncludeAllMail {
			allMail = append(allMail, f.Name)
			continue
		}
		remote[f.Name] = true
	}
	local := map[string]bool{}
	for _, name := range in.Local {
		if !excluded(name) {
			local[name] = true
		}
	}
	known := map[string]bool{}
	for _, name := range in.Known {
		known[name] = true
	}
	all := map[string]bool{model.Inbox: true}
	for _, m := range []map[string]bool{remote, local, known} {
		for name := range m {
			all[name] = true
		}
	}
	// folded counts the distinct names of each case-folded spelling, on
	// the server (any folder) or in the Maildir.
	folded := map[string]map[string]bool{}
	addFolded := func(name string) {
		f := strings.ToLower(name)
		if folded[f] == nil {
			folded[f] = map[string]bool{}
		}
		folded[f][name] = true
	}
	for _, f := range in.Remote {
		addFolded(f.Name)
	}
	for _, name := range in.Local {
		addFolded(name)
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if excluded(name) {
			continue
		}
		r, l, k := remote[name], local[name], known[name]
		var a FolderAction
		switch {
		case l && !r && holdsDelimiter(name, in.Delimiter):
			a = SkipUnrepresentable
		case l && !r && !k && caseClash(name, folded):
			a = SkipCaseClash
		case r && l:
			a = Sync
		case r && k:
			a = SkipLocalGone
		case r:
			a = CreateLocal
		case l && k:
			a = SkipRemoteGone
		case l && unselectable[name]:
			a = SkipNoSelect
		case l:
			a = CreateRemote
		case k:
			a = Forget
		case name == model.Inbox:
			a = CreateInbox
		default:
			continue
		}
		out = append(out, FolderDecision{Name: name, Action: a})
	}
	return out, allMail
}

// holdsDelimiter reports whether a level of name contains delim (never
// for "" or "/", mailsync's own separator).
func holdsDelimiter(name, delim string) bool {
	return delim != "" && delim != "/" && strings.Contains(name, delim)
}

// caseClash reports whether name differs only in case from another name
// in folded, or starts with a non-canonical spelling of INBOX.
func caseClash(name string, folded map[string]map[string]bool) bool {
	first, _, sub := strings.Cut(name, "/")
	if sub && first != model.Inbox && strings.EqualFold(first, model.Inbox) {
		return true
	}
	return len(folded[strings.ToLower(name)]) > 1
}
