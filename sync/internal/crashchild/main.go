// Command crashchild is the crash tests' helper: it runs one sync of the
// account given as JSON in MAILSYNC_TEST_CHILD_ACCOUNT. The tests build it
// with the mailsync_failpoints tag, so that internal/crashpoint can stop
// it after any durable step; it is not part of mailsync.
// MAILSYNC_TEST_CHILD_ALLOW_MASS_DELETE=1 turns the mass-deletion guard
// off (the randomized test's runs).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/mailsync/mailsync/sync"
)

func main() {
	var acct sync.Account
	if err := json.Unmarshal([]byte(os.Getenv("MAILSYNC_TEST_CHILD_ACCOUNT")), &acct); err != nil {
		fmt.Fprintln(os.Stderr, "crashchild: MAILSYNC_TEST_CHILD_ACCOUNT:", err)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := sync.Options{AllowMassDelete: os.Getenv("MAILSYNC_TEST_CHILD_ALLOW_MASS_DELETE") == "1"}
	if _, err := sync.Run(ctx, acct, opts); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
}
