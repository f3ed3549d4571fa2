// Package model holds the value types shared by every part of mailsync:
// folder names, UIDs, the six standard flags and the message listings the
// sync engine compares. It does no I/O; the helpers that convert line
// endings and compute fingerprints work on byte slices and streams handed
// to them.
package model

import (
	"io"
	"strings"
	"time"
)

// UID is an IMAP message UID (RFC 3501 2.3.1.1). Zero is never a valid UID.
type UID uint32

// Flags is the set of the six flags that both IMAP and Maildir know.
// Other keywords are Keywords (keywords.go).
type Flags uint8

// The flags, in the ASCII order of their Maildir letters (D F P R S T).
const (
	FlagDraft   Flags = 1 << iota // D  \Draft
	FlagFlagged                   // F  \Flagged
	FlagPassed                    // P  $Forwarded
	FlagReplied                   // R  \Answered
	FlagSeen                      // S  \Seen
	FlagTrashed                   // T  \Deleted
)

// AllFlags is every flag mailsync syncs.
const AllFlags = FlagDraft | FlagFlagged | FlagPassed | FlagReplied | FlagSeen | FlagTrashed

var flagTable = [...]struct {
	flag   Flags
	letter byte
	imap   string
}{
	{FlagDraft, 'D', `\Draft`},
	{FlagFlagged, 'F', `\Flagged`},
	{FlagPassed, 'P', `$Forwarded`},
	{FlagReplied, 'R', `\Answered`},
	{FlagSeen, 'S', `\Seen`},
	{FlagTrashed, 'T', `\Deleted`},
}

// Letters returns the Maildir info letters of f in ASCII order, e.g. "FS".
func (f Flags) Letters() string {
	var b strings.Builder
	for _, e := range flagTable {
		if f&e.flag != 0 {
			b.WriteByte(e.letter)
		}
	}
	return b.String()
}

// String is Letters, with "-" for the empty set (for logs and reports).
func (f Flags) String() string {
	if s := f.Letters(); s != "" {
		return s
	}
	return "-"
}

// FlagsFromLetters parses Maildir info letters. Letters it does not know
// (lowercase keywords, other uppercase letters) are ignored here; the
// maildir package keeps them in the file name.
func FlagsFromLetters[S string | []byte](s S) Flags {
	var f Flags
	for i := 0; i < len(s); i++ {
		for _, e := range flagTable {
			if s[i] == e.letter {
				f |= e.flag
			}
		}
	}
	return f
}

// IMAP returns the IMAP flag names of f.
func (f Flags) IMAP() []string {
	var out []string
	for _, e := range flagTable {
		if f&e.flag != 0 {
			out = append(out, e.imap)
		}
	}
	return out
}

// FlagsFromIMAP maps IMAP flag names (case-insensitively) to Flags; other
// flags and keywords are ignored.
func FlagsFromIMAP(names []string) Flags {
	var f Flags
	for _, n := range names {
		for _, e := range flagTable {
			if strings.EqualFold(n, e.imap) {
				f |= e.flag
			}
		}
	}
	return f
}

// UnkeptFlags returns the flags of Flags a folder cannot keep, given the
// PERMANENTFLAGS of its SELECT reply (RFC 3501 7.1): a system flag must
// be listed; $Forwarded, a keyword, must be listed or the list must hold
// `\*` (new keywords may be created). known is false when the server
// sent no PERMANENTFLAGS, which means every flag is kept.
func UnkeptFlags(permanent []string, known bool) Flags {
	if !known {
		return 0
	}
	var kept Flags
	for _, n := range permanent {
		if n == `\*` {
			kept |= FlagPassed
		}
	}
	kept |= FlagsFromIMAP(permanent)
	return AllFlags &^ kept
}

// MergeFlags is the three-way, per-flag merge of the two sides' flags
// against the flags both agreed on at the last sync: a flag takes the
// value of the side that changed it. When both changed it they agree
// (a flag has two values), so there is never a conflict.
func MergeFlags(base, remote, local Flags) Flags {
	changedRemote := base ^ remote
	return (remote & changedRemote) | (local &^ changedRemote)
}

// RemoteMsg is one message of a remote folder listing.
type RemoteMsg struct {
	UID   UID
	Flags Flags
	// Size is RFC822.SIZE: the size with CRLF line endings.
	Size int64
	// Fingerprint identifies the content (see Fingerprint); empty when
	// it was not fetched.
	Fingerprint string
	// Hash is ContentHash of the whole message; empty when it was not
	// fetched (only candidates for pairing by content get one).
	Hash string
	// Keywords are the message's keywords (FETCH FLAGS).
	Keywords Keywords
}

// LocalMsg is one message of a Maildir folder listing.
type LocalMsg struct {
	// Key is the unique base name of the file (before ":2,"): it stays
	// the same when the flags change.
	Key   string
	Flags Flags
	// Fingerprint identifies the content (see Fingerprint); empty when
	// it was not computed.
	Fingerprint string
	// Hash is ContentHash of the whole message; empty when it was not
	// computed (only candidates for pairing by content get one, and
	// paired files whose size or mtime changed: see Pair.Size).
	Hash string
	// Keywords are the names of the keyword letters of the file name
	// that the folder's dovecot-keywords file names.
	Keywords Keywords
	// Size and ModTime (Unix nanoseconds) are the file's, from the scan;
	// ModTime 0: not stat'ed (the scan read names only), Size then from
	// the name's ",S=" (-1: none).
	Size    int64
	ModTime int64
	// Ino is the file's inode number, from the directory listing (0:
	// unknown). A file replaced by a rename over its name has another.
	Ino uint64
	// WireSize is CRLFSize of the content, set with Hash (0: unknown).
	WireSize int64
}

// FolderStatus is what selecting a remote folder tells.
type FolderStatus struct {
	UIDValidity uint32
	UIDNext     UID
	Messages    uint32
	// HighestModSeq is zero when the server has no CONDSTORE or the
	// folder has NOMODSEQ.
	HighestModSeq uint64
	// Unkept are the flags the server cannot store in this folder (not
	// in its PERMANENTFLAGS; see UnkeptFlags): they are never sent to
	// it and stay in the Maildir only.
	Unkept Flags
}

// RemoteFolder is one folder of a server's listing.
type RemoteFolder struct {
	// Name is canonical: "/"-separated UTF-8, the inbox as "INBOX".
	Name string
	// NoSelect is set for levels that hold no messages (\Noselect,
	// \NonExistent).
	NoSelect bool
	// SpecialUse is the RFC 6154 attribute (`\Sent`, `\Trash`, `\All`,
	// ...) or "".
	SpecialUse string
}

// Caps are the server capabilities that change what a client sends and
// what the engine may rely on.
type Caps struct {
	UIDPlus, CondStore, Move, SpecialUse, LiteralPlus, MultiAppend bool
}

// Message is one message fetched from a server.
type Message struct {
	UID          UID
	Flags        Flags
	InternalDate time.Time
	// Size is the number of bytes Body gives (RFC822.SIZE, as the
	// server sends it).
	Size int64
	// Body reads the message exactly as the server sends it (CRLF),
	// streamed from the connection: it is valid only until the callback
	// it was handed to returns, and what is left unread is skipped.
	Body     io.Reader
	Keywords Keywords
}

// AppendReq is one message to upload.
type AppendReq struct {
	Flags    Flags
	Keywords Keywords
	// Date becomes the internal date; the server's clock when zero.
	Date time.Time
	// Body is the message with CRLF line endings, sent as is; or, when
	// Reader is set, Reader gives it (Size bytes, CRLF), read once while
	// it is sent, so that it is never held in memory.
	Body   []byte
	Reader io.Reader
	Size   int64
}

// Len is the size of the message to upload.
func (r AppendReq) Len() int64 {
	if r.Reader != nil {
		return r.Size
	}
	return int64(len(r.Body))
}

// AppendResult is what the server told about a stored message.
type AppendResult struct {
	// UIDValidity and UID come from APPENDUID; both are 0 when the
	// server sent none or UIDPLUS is off. The caller must ignore them
	// when UIDValidity differs from the one it knows.
	UIDValidity uint32
	UID         UID
}

// Pair is a message known to both sides: the server's UID, the Maildir
// key, and the flags and keywords both sides had after the last sync.
// The content fields describe the Maildir file when it was paired; they
// are zero in pairs recorded by versions before they existed (the sync
// fills them in).
type Pair struct {
	UID      UID
	Key      string   // Maildir key (base name)
	Flags    Flags    // the flags both sides had after the last sync
	Keywords Keywords // the keywords both sides had after the last sync
	// Size and ModTime (Unix nanoseconds) of the Maildir file: when the
	// file's differ, its content is hashed and compared with Hash to
	// tell an edit in place from a touch. Size 0: unknown.
	Size    int64
	ModTime int64
	// Ino is the file's inode number (0: unknown): a file saved again by
	// a rename over its name has another, which the directory listing
	// tells without a stat.
	Ino uint64
	// Hash (ContentHash) and Fingerprint (LocalFingerprint) of the
	// content: an edited file is told by its hash, and after a
	// UIDVALIDITY change a message deleted locally is found on the
	// server by its content. Empty: unknown.
	Hash        string
	Fingerprint string
}

// WithContent returns p with the content fields of the local message l
// (which must have Hash and Fingerprint set, or they stay unknown).
func (p Pair) WithContent(l LocalMsg) Pair {
	p.Size, p.ModTime, p.Ino, p.Hash, p.Fingerprint = l.Size, l.ModTime, l.Ino, l.Hash, l.Fingerprint
	return p
}

// Intent is a local message whose upload was started: recorded before
// the APPEND is sent, forgotten once the server's copy is paired.
type Intent struct {
	Key         string
	Fingerprint string
	// Hash is ContentHash of the message uploaded; empty in intents
	// recorded by versions before it existed.
	Hash    string `json:",omitempty"`
	Created time.Time
}

// DownloadIntent is a server message whose download was started:
// recorded before its file is written, forgotten once the file is paired.
// A run interrupted in between leaves a file the state does not name; the
// intent tells the next run that it is a download (to pair again, or to
// remove when the server's message is gone), not a new local message.
type DownloadIntent struct {
	UID         UID
	Fingerprint string // LocalFingerprint of the message
	Hash        string // ContentHash of the message
}

// FolderState is everything the state remembers about one folder.
type FolderState struct {
	Name          string
	UIDValidity   uint32 // 0: never synced
	UIDNext       UID
	HighestModSeq uint64
	Pairs         []Pair // sorted by UID
	Intents       []Intent
	Downloads     []DownloadIntent // sorted by UID
	// HeldBack lists the pairs (by UID, sorted) whose deletion the
	// mass-deletion guard held back: they stay held, in later passes and
	// later runs, until the user allows the deletion.
	HeldBack []UID
	// Unkept are the flags the server said it cannot store in this
	// folder (FolderStatus.Unkept) when the user was last told so; verify
	// (which opens folders read-only, where PERMANENTFLAGS is empty)
	// takes them from here.
	Unkept Flags
	// OneSided are the keywords the user was told stay on one side: the
	// server cannot store them (PERMANENTFLAGS without `\*`), or the
	// Maildir folder has no letter left for them (26 at most). Said once;
	// verify does not count them as differences.
	OneSided Keywords
}

// Meta is a folder's server-side position: what the state records once
// every change up to it has been applied.
type Meta struct {
	UIDValidity   uint32
	UIDNext       UID
	HighestModSeq uint64
}

// StateChange is one atomic change to one folder's stored state, applied
// in the order of its fields: reset the pairs, record Meta, put and
// delete pairs, put and delete upload intents, put and delete download
// intents, replace the held-back list.
type StateChange struct {
	// ResetPairs forgets every pair (after a UIDVALIDITY change).
	ResetPairs      bool
	Meta            *Meta
	PutPairs        []Pair
	DeletePairs     []UID
	PutIntents      []Intent
	DeleteIntents   []string
	PutDownloads    []DownloadIntent
	DeleteDownloads []UID
	// SetHeldBack replaces FolderState.HeldBack with HeldBack.
	SetHeldBack bool
	HeldBack    []UID
	// SetUnkept replaces FolderState.Unkept with Unkept.
	SetUnkept bool
	Unkept    Flags
	// SetOneSided replaces FolderState.OneSided with OneSided.
	SetOneSided bool
	OneSided    Keywords
}

// Empty reports whether c changes nothing.
func (c *StateChange) Empty() bool {
	return !c.ResetPairs && c.Meta == nil && len(c.PutPairs) == 0 && len(c.DeletePairs) == 0 &&
		len(c.PutIntents) == 0 && len(c.DeleteIntents) == 0 && len(c.PutDownloads) == 0 && len(c.DeleteDownloads) == 0 && !c.SetHeldBack && !c.SetUnkept && !c.SetOneSided
}
