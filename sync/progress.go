package sync

import (
	"fmt"
	"strings"
	"time"
)

// Progress receives the engine's progress. Its methods are called from
// several goroutines at once. The CLI draws a bar with it; nil means no
// progress is reported.
type Progress interface {
	// Plan announces work found: messages to transfer and their bytes.
	Plan(msgs int, bytes int64)
	// Done reports transferred messages and bytes.
	Done(msgs int, bytes int64)
}

type noProgress struct{}

func (noProgress) Plan(int, int64) {}
func (noProgress) Done(int, int64) {}

// Summary counts what one account's run did.
type Summary struct {
	Account        string `json:"account"`
	Folders        int    `json:"folders"`
	Downloaded     int    `json:"downloaded"`
	Uploaded       int    `json:"uploaded"`
	BytesDown      int64  `json:"bytes_down"`
	BytesUp        int64  `json:"bytes_up"`
	FlagsToServer  int    `json:"flags_to_server"`
	FlagsToLocal   int    `json:"flags_to_local"`
	DeletedLocal   int    `json:"deleted_local"`
	ExpungedRemote int    `json:"expunged_remote"`
	Paired         int    `json:"paired_by_content"`
	// Skipped counts the messages not synced because the server refused
	// them; each is also named in Errors, so a run with skipped messages
	// is partial.
	Skipped  int      `json:"skipped,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	// QuickPasses counts the folders synced by a quick pass (only the
	// server changed: quick.go), for tests.
	QuickPasses int `json:"-"`
	// QuickUnlisted counts the quick passes that found their files by
	// name, without reading the Maildir folder (listServerKnown).
	QuickUnlisted int `json:"-"`
	// Listings counts the reads of a Maildir folder's directories that
	// planned a pass (not those that settle one).
	Listings int `json:"-"`
	// PairWalks counts the quick passes' reads of every stored pair of
	// a folder (internal, for tests).
	PairWalks int `json:"-"`
}

func (s *Summary) add(o *Summary) {
	s.Downloaded += o.Downloaded
	s.Uploaded += o.Uploaded
	s.BytesDown += o.BytesDown
	s.BytesUp += o.BytesUp
	s.FlagsToServer += o.FlagsToServer
	s.FlagsToLocal += o.FlagsToLocal
	s.DeletedLocal += o.DeletedLocal
	s.ExpungedRemote += o.ExpungedRemote
	s.Paired += o.Paired
	s.Skipped += o.Skipped
	s.QuickPasses += o.QuickPasses
	s.QuickUnlisted += o.QuickUnlisted
	s.Listings += o.Listings
	s.PairWalks += o.PairWalks
	s.Warnings = append(s.Warnings, o.Warnings...)
	s.Errors = append(s.Errors, o.Errors...)
}

// Changed reports whether the run changed anything on either side.
func (s *Summary) Changed() bool {
	return s.Downloaded+s.Uploaded+s.FlagsToServer+s.FlagsToLocal+s.DeletedLocal+s.ExpungedRemote+s.Paired > 0
}

// String is the one-line summary printed after a run.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d folders, %d downloaded, %d uploaded, flags %d→server %d→local, deleted %d local %d server",
		s.Account, s.Folders, s.Downloaded, s.Uploaded, s.FlagsToServer, s.FlagsToLocal, s.DeletedLocal, s.ExpungedRemote)
	if s.Paired > 0 {
		fmt.Fprintf(&b, ", %d paired by content", s.Paired)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", s.Skipped)
	}
	if n := len(s.Warnings); n > 0 {
		fmt.Fprintf(&b, ", %d warnings", n)
	}
	if n := len(s.Errors); n > 0 {
		fmt.Fprintf(&b, ", %d errors", n)
	}
	return b.String()
}

// timeNow is time.Now, replaceable in tests.
var timeNow = time.Now
