package sync

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/mailsync/mailsync/imapconn"
	"github.com/mailsync/mailsync/maildir"
	"github.com/mailsync/mailsync/model"
	"github.com/mailsync/mailsync/statedb"
)

// The engine talks to the world through three ports: Remote (the IMAP
// server, implemented by *imapconn.Conn), Local (the Maildir, implemented
// by *maildir.Maildir through maildirTree, and its folders by
// *maildir.Folder) and State (the memory of the last run, implemented by
// *statedb.DB). The implementations do not import this package; the
// assertions at the end of this file keep them in step with the ports.

// Remote is one logged-in server connection. One goroutine uses a Remote
// at a time (a worker owns its connection); Close may be called from any
// goroutine to abort it. The commands after Select act on the selected
// folder. An error that imapconn.IsRetryable accepts means the connection
// is broken and must be closed and dialed again; a command that changes
// the server (AppendBatch, StoreFlags, Expunge) may then have been carried
// out in full, in part or not at all, which the next plan finds out from
// the listings. Any other error leaves the connection usable.
type Remote interface {
	// Caps returns the capabilities the connection uses (fixed at dial).
	Caps() model.Caps
	// ListFolders lists every folder, sorted by name; names the client
	// cannot represent are not in folders but in skipped, as
	// "name: reason" for the user.
	ListFolders(ctx context.Context) (folders []model.RemoteFolder, skipped []string, err error)
	// Statuses returns the status of the given folders without selecting
	// them (STATUS, pipelined), for Skip; a folder the server does not
	// answer for is missing from the map. each, when not nil, is called
	// with every status of the map as its answer arrives, before
	// Statuses returns. The error is for a broken connection.
	Statuses(ctx context.Context, names []string, each func(name string, st model.FolderStatus)) (map[string]model.FolderStatus, error)
	// CreateFolder creates a folder (canonical name). On error the folder
	// may exist or not; the next ListFolders tells.
	CreateFolder(ctx context.Context, name string) error
	// Select opens a folder, read-only with EXAMINE, and returns its
	// status. On error no folder is selected.
	Select(ctx context.Context, name string, readOnly bool) (model.FolderStatus, error)
	// Unkept returns the flags the selected folder cannot store (its
	// PERMANENTFLAGS): they are never sent to the server.
	Unkept() model.Flags
	// KeywordRule says which keywords the selected folder can store (its
	// PERMANENTFLAGS): the others are never sent to the server.
	KeywordRule() model.KeywordRule
	// ListMessages lists the selected folder's messages (UID, flags,
	// size) changed since the given HIGHESTMODSEQ, or all of them when
	// changedSince is 0. No fingerprints.
	ListMessages(ctx context.Context, changedSince uint64) ([]model.RemoteMsg, error)
	// ListUIDRange lists the messages of UIDs lo to hi as ListMessages
	// does.
	ListUIDRange(ctx context.Context, lo, hi model.UID) ([]model.RemoteMsg, error)
	// UIDs lists the selected folder's UIDs.
	UIDs(ctx context.Context) ([]model.UID, error)
	// Fingerprints returns model.Fingerprint(RFC822.SIZE, header) of the
	// given messages, equal to model.LocalFingerprint of the same
	// message in a Maildir; UIDs the server no longer has are missing
	// from the map.
	Fingerprints(ctx context.Context, uids []model.UID) (map[model.UID]string, error)
	// FetchBodies fetches the given messages without setting \Seen and
	// calls fn for each, one at a time, on the calling goroutine. An
	// error from fn stops the fetch and is returned wrapped. fn must not
	// call the Remote.
	FetchBodies(ctx context.Context, uids []model.UID, fn func(model.Message) error) error
	// FindByMessageID returns the UIDs, from minUID on, of the selected
	// folder's messages whose Message-ID header holds id, sorted.
	FindByMessageID(ctx context.Context, id string, minUID model.UID) ([]model.UID, error)
	// AppendBatch uploads reqs to folder and calls done, on the calling
	// goroutine, for each message the server confirmed, in order. On
	// error the messages without a done call may or may not be stored.
	AppendBatch(ctx context.Context, folder string, reqs []model.AppendReq, done func(i int, res model.AppendResult) error) error
	// StoreFlags adds (or removes) flags on the given messages of the
	// selected folder; other flags stay.
	StoreFlags(ctx context.Context, uids []model.UID, add bool, flags model.Flags) error
	// StoreKeywords adds (or removes) keywords on the given messages of
	// the selected folder; other keywords stay.
	StoreKeywords(ctx context.Context, uids []model.UID, add bool, keywords model.Keywords) error
	// Expunge removes exactly the given messages of the selected folder
	// (UID EXPUNGE). imapconn.ErrExpungeDeferred means they are marked
	// \Deleted but stay until another client expunges (no UIDPLUS).
	Expunge(ctx context.Context, uids []model.UID) error
	// Close ends the connection.
	Close() error
}

// conn is the engine's historical name for Remote.
type conn = Remote

// Local is the Maildir tree. Its methods may be called from any
// goroutine; two goroutines never work on the same folder.
type Local interface {
	// Exists reports whether the tree's root (the INBOX) exists.
	Exists() bool
	// Folders lists the folders of the tree, sorted, in canonical names.
	Folders() ([]string, error)
	// Folder returns a folder, which may not exist yet (see
	// LocalFolder.Exists). An error means the name cannot be a folder.
	Folder(name string) (LocalFolder, error)
	// CreateFolder creates a folder (idempotent). On error it may be
	// half made; a later CreateFolder completes it.
	CreateFolder(name string) (LocalFolder, error)
}

// LocalFolder is one Maildir folder. A message is named by its key, which
// stays when its flags change; an error wrapping os.ErrNotExist means the
// message is gone (another program deleted it). Every change is atomic
// (a rename or an unlink): after an error the message is as it was or
// as asked, never half written.
type LocalFolder interface {
	// Path is the folder's directory, for messages to the user.
	Path() string
	// Exists reports whether the folder's directories exist.
	Exists() bool
	// Scan lists the folder's messages (new/ and cur/, never tmp/).
	Scan() ([]maildir.Entry, error)
	// List is Scan without a stat per file: Size is from the name's
	// ",S=" or -1, ModTime is zero.
	List() ([]maildir.Entry, error)
	// ListSome is List for the files keep returns true for (keep sees
	// every message file, before any string is made of it; start is
	// called before each read of the directories); Unchanged then
	// compares with everything it read.
	ListSome(start func(), keep func(v *maildir.FileView) bool) ([]maildir.Entry, error)
	// StatEntries fills in the size, mtime and inode number of listed
	// entries without an mtime for whose keys want is true.
	StatEntries(ents []maildir.Entry, want func(key string) bool) error
	// ChangeStamp returns the modification times of new/ and cur/ (zero
	// for a missing directory): every delivery, rename and removal
	// changes one.
	ChangeStamp() maildir.Stamp
	// Unchanged reports whether the folder holds exactly what the last
	// List found plus this process's own Deliver, SetFlags and Remove
	// since (no other program changed it). It ends a watch.
	Unchanged() (bool, error)
	// FindFile finds a message's file by the name its flags and
	// keyword letters give it, reading no directory; SetKnown gives the
	// files found so to a folder known without a listing (see maildir).
	FindFile(key string, flags model.Flags, keywordLetters string) (maildir.Entry, bool)
	SetKnown(ents []maildir.Entry)
	// ForgetLocations forgets where the files delivered since the last
	// listing are (a first sync's, after each slice).
	ForgetLocations()
	// Watch starts watching the folder's directories, before the
	// listing, so that Unchanged need not read them again; Unwatch ends
	// the watch.
	Watch()
	Unwatch()
	// Lookup finds a message by key.
	Lookup(key string) (maildir.Entry, error)
	// Open opens a message's file by key (its content as stored, LF
	// line endings); the caller closes it.
	Open(key string) (*os.File, maildir.Entry, error)
	// ReadFile reads a message by key, as stored (LF line endings).
	ReadFile(key string) ([]byte, maildir.Entry, error)
	// Deliver writes a new message (tmp/, fsync, rename). It is not
	// durable until SyncDirs returns.
	Deliver(body []byte, flags model.Flags, mtime time.Time) (maildir.Entry, error)
	// StageFile writes a new message into tmp/ through fill (fsynced,
	// not yet visible); the Staged is then delivered or discarded.
	StageFile(fill func(fh *os.File) error, mtime time.Time) (*maildir.Staged, error)
	// RemoveStaged removes the staged files of tmp/ (left by a crash)
	// that match says are the caller's.
	RemoveStaged(match func(r io.ReaderAt, size int64) bool) error
	// SyncDirs makes the deliveries and renames so far durable.
	SyncDirs() error
	// DeferDirSync leaves the directory fsyncs of SetFlags, SetInfo and
	// Remove to SyncDirs: the engine calls it before recording them.
	DeferDirSync()
	// SetFlags renames a message to carry flags (other info kept).
	SetFlags(key string, flags model.Flags) (maildir.Entry, error)
	// Keywords reads the folder's keyword map (dovecot-keywords).
	Keywords() (*maildir.Keywords, error)
	// AddKeywords gives letters to the names the map lacks, as far as the
	// 26 letters go (maildir.ErrTooManyKeywords past them), and returns
	// the map.
	AddKeywords(names ...string) (*maildir.Keywords, error)
	// SetInfo renames a message to carry flags and the keyword letters
	// keywords, replacing the letters in managed (other info kept).
	SetInfo(key string, flags model.Flags, keywords, managed string) (maildir.Entry, error)
	// DeliverFrom is Deliver with keyword letters, from a reader.
	DeliverFrom(r io.Reader, flags model.Flags, keywords string, mtime time.Time) (maildir.Entry, error)
	// Remove deletes a message.
	Remove(key string) error
	// CleanTmp removes the files of tmp/ older than olderThan.
	CleanTmp(olderThan time.Duration) error
	// CleanStaged removes the messages this program staged in tmp/
	// before the time before and never delivered or discarded (a
	// killed run's).
	CleanStaged(before time.Time) error
}

// State is the memory of the last run: one writer process at a time (the
// implementation refuses a second), any goroutine of it. Each Commit and
// Forget is one durable transaction: when it returns an error nothing of
// it was written.
type State interface {
	// Folders lists the folders with state, sorted.
	Folders() ([]string, error)
	// Load reads one folder's state; a folder never synced comes back
	// empty (UIDValidity 0), not as an error.
	Load(name string) (*model.FolderState, error)
	// LoadHead is Load without the pairs (Pairs nil).
	LoadHead(name string) (*model.FolderState, error)
	// LoadPairs reads the stored pairs of the given UIDs alone (those
	// that have one).
	LoadPairs(name string, uids []model.UID) ([]model.Pair, error)
	// PairKeys calls fn with the UID and key of every stored pair, in
	// UID order, decoding nothing else (key is valid during the call).
	PairKeys(name string, fn func(uid model.UID, key []byte)) error
	// PairCount is the number of stored pairs; ok is false when the
	// state does not know it (the pairs must be counted).
	PairCount(name string) (n int, ok bool, err error)
	// PairSummaries calls fn with the key (valid during the call) and
	// the pair of every stored pair, in UID order, each pair without its
	// Key, Hash and Fingerprint (no string made but its keywords').
	PairSummaries(name string, fn func(key []byte, p model.Pair)) error
	// Commit applies one change to one folder atomically and durably.
	Commit(name string, ch model.StateChange) error
	// LoadSkip reads a folder's Skip record and whether work is pending
	// in its state, without decoding its pairs.
	LoadSkip(name string) (statedb.SkipInfo, error)
	// SetSkip records a folder's Skip record (a zero one deletes it)
	// and, with meta, its UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, in one
	// transaction; it writes nothing when the same record is stored and
	// meta is nil. Every Commit to the folder deletes the record.
	SetSkip(name string, s statedb.Skip, meta *model.Meta) error
	// Forget deletes everything stored about a folder.
	Forget(name string) error
	// Close releases the state.
	Close() error
}

// maildirTree adapts *maildir.Maildir to Local: Go has no covariant
// results, and maildir returns its concrete *Folder.
type maildirTree struct{ *maildir.Maildir }

func (m maildirTree) Folder(name string) (LocalFolder, error) {
	f, err := m.Maildir.Folder(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (m maildirTree) CreateFolder(name string) (LocalFolder, error) {
	f, err := m.Maildir.CreateFolder(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

var (
	_ Remote      = (*imapconn.Conn)(nil)
	_ Local       = maildirTree{}
	_ LocalFolder = (*maildir.Folder)(nil)
	_ State       = (*statedb.DB)(nil)
)
