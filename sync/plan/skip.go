package plan

import (
	"time"

	"github.com/mailsync/mailsync/model"
)

// SkipRecord is what a folder looked like when a sync last left it fully
// in step with the state (statedb.Skip): the server's status and the
// modification times, in nanoseconds, of the Maildir folder's new/ and
// cur/. A zero record proves nothing.
type SkipRecord struct {
	UIDValidity   uint32
	UIDNext       model.UID
	Messages      uint32
	HighestModSeq uint64
	NewMtime      int64
	CurMtime      int64
	// Listed is when the sync that made the record listed the folder
	// (Unix nanoseconds).
	Listed int64
	// Exact: the Maildir folder held exactly one file per pair and
	// nothing else (a quick pass that finds it unchanged can find the
	// files of the messages it plans by their names: KnownFiles).
	Exact bool
}

// SkipInput is what Skip looks at for one folder.
type SkipInput struct {
	// CondStore: the connection uses CONDSTORE. Without it a flag
	// changed on the server changes nothing STATUS tells.
	CondStore bool
	// Status is the server's STATUS of the folder now; HaveStatus is
	// false when the server did not answer for it.
	Status     model.FolderStatus
	HaveStatus bool
	// NewMtime and CurMtime are the modification times of new/ and
	// cur/ now (0: missing).
	NewMtime, CurMtime int64
	// Recorded is the folder's stored record; Pending says the state
	// holds unfinished work for it (intents, downloads, held-back
	// deletions, flags the server cannot keep).
	Recorded SkipRecord
	Pending  bool
	// Now and MaxAge (nanoseconds): a record made more than MaxAge
	// before Now is not trusted (0: no limit), so that every folder is
	// listed in full now and then. A file rewritten in place, without a
	// rename, moves no directory mtime: it is seen at such a listing.
	Now, MaxAge int64
}

// SkipReason says why a folder is synced rather than skipped (for
// tests and the debug log); SkipOK means it may be skipped.
type SkipReason string

// The reasons of Skip.
const (
	SkipOK              SkipReason = ""
	SkipNoCondStore     SkipReason = "no CONDSTORE"
	SkipNoStatus        SkipReason = "no STATUS answer"
	SkipPending         SkipReason = "unfinished work in the state"
	SkipNoRecord        SkipReason = "no record of a sync that left it in step"
	SkipServerChanged   SkipReason = "changed on the server"
	SkipMaildirChanged  SkipReason = "changed in the Maildir"
	SkipMaildirNoMtimes SkipReason = "Maildir directories missing"
	SkipStale           SkipReason = "not listed in full for a while"
)

// Skip decides whether a folder can be left alone: no SELECT, no scan,
// no state decoded. Only when it is certain that nothing changed on
// either side since a sync left the folder in step: the server has
// CONDSTORE (so that a flag change moves HIGHESTMODSEQ) and its
// UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ are those recorded;
// new/ and cur/ have the recorded modification times (every delivery,
// rename, e.g. a flag change, and removal changes them; a file rewritten
// in place does not: it is seen when the record is older than MaxAge, or
// when something else changes in the folder); and the state holds no
// unfinished work for the folder.
func Skip(in SkipInput) SkipReason {
	r := in.Recorded
	switch {
	case !in.CondStore:
		return SkipNoCondStore
	case !in.HaveStatus:
		return SkipNoStatus
	case in.Pending:
		return SkipPending
	case r.UIDValidity == 0 || r.HighestModSeq == 0 || r.NewMtime == 0 || r.CurMtime == 0:
		return SkipNoRecord
	case in.Status.UIDValidity != r.UIDValidity || in.Status.UIDNext != r.UIDNext ||
		in.Status.Messages != r.Messages || in.Status.HighestModSeq != r.HighestModSeq:
		return SkipServerChanged
	case in.MaxAge > 0 && in.Now-r.Listed > in.MaxAge:
		return SkipStale
	case in.NewMtime == 0 || in.CurMtime == 0:
		return SkipMaildirNoMtimes
	case in.NewMtime != r.NewMtime || in.CurMtime != r.CurMtime:
		return SkipMaildirChanged
	}
	return SkipOK
}

// MaySkip reports whether Skip could say SkipOK for the folder should the
// server's STATUS match its record (in.Status and in.HaveStatus are not
// looked at). When it could not (the Maildir side changed, the record is
// missing or too old, work is pending, no CONDSTORE), the folder is
// synced whatever the server says, and its STATUS need not be asked:
// after changes in the Maildir alone a run asks no STATUS at all, and
// each folder's SELECT comes at once.
func MaySkip(in SkipInput) bool {
	r := in.Recorded
	in.Status = model.FolderStatus{UIDValidity: r.UIDValidity, UIDNext: r.UIDNext, Messages: r.Messages, HighestModSeq: r.HighestModSeq}
	in.HaveStatus = true
	return Skip(in) == SkipOK
}

// Fine and coarse timestamp margins (see MtimeMargin).
const (
	FineMtimeMargin   = 20 * time.Millisecond
	CoarseMtimeMargin = 2 * time.Second
)

// MtimeMargin is how much older than the moment it was read a directory's
// modification time m must be for it to be recorded (TrustedMtime). A
// change made later in the same timestamp tick would leave m as it is;
// once the clock is a tick past m, every change gives a later mtime. A
// time with a sub-second part comes from a file system with fine
// timestamps, whose tick is the kernel's clock tick (at most 10 ms: a
// timestamp lags the clock by less than a tick, the margin is twice that);
// a whole second may come from one with 1- or 2-second timestamps.
func MtimeMargin(m int64) time.Duration {
	if m%int64(time.Second) != 0 {
		return FineMtimeMargin
	}
	return CoarseMtimeMargin
}

// TrustedMtime returns m, a directory's modification time read at
// readAt (nanoseconds, read before the directory is listed), when it is
// old enough to be recorded (MtimeMargin), else 0 (unknown).
func TrustedMtime(m, readAt int64) int64 {
	if m <= 0 || readAt-m < int64(MtimeMargin(m)) {
		return 0
	}
	return m
}

// RecordSkip is the record to store once a folder's sync has left it in
// step (every pass applied, nothing refused or held back). status is the
// SELECT of the last pass and serverChanged whether that pass changed the
// server (its own STOREs, APPENDs and EXPUNGEs moved the status on after
// the SELECT: what the server holds now is then not known). pre are the
// mtimes of new/ and cur/ read at readAt, before the last listing of the
// Maildir folder, and post the same read once nothing more was to be
// done: equal and trusted (TrustedMtime), nobody changed the folder since
// it was listed. The record is zero (proves nothing) unless both sides
// are known.
func RecordSkip(condStore bool, status model.FolderStatus, serverChanged bool, pre [2]int64, readAt int64, post [2]int64) SkipRecord {
	if !condStore || serverChanged || status.HighestModSeq == 0 || status.UIDValidity == 0 {
		return SkipRecord{}
	}
	if pre != post {
		return SkipRecord{}
	}
	n, c := TrustedMtime(pre[0], readAt), TrustedMtime(pre[1], readAt)
	if n == 0 || c == 0 {
		return SkipRecord{}
	}
	return SkipRecord{UIDValidity: status.UIDValidity, UIDNext: status.UIDNext, Messages: status.Messages,
		HighestModSeq: status.HighestModSeq, NewMtime: n, CurMtime: c, Listed: readAt}
}
