//go:build mailsync_failpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	gosync "sync"
)

// Enabled is true in failpoint builds.
const Enabled = true

var (
	mu      gosync.Mutex
	count   int
	after   = envInt("MAILSYNC_CRASH_AFTER")
	logPath = os.Getenv("MAILSYNC_STEP_LOG")
)

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// Step records that a durable step of the given kind has just completed.
// It is safe for concurrent use.
func Step(kind string) {
	if after <= 0 && logPath == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	count++
	if logPath != "" {
		if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintf(f, "%d %s\n", count, kind)
			f.Close()
		}
	}
	if after > 0 && count == after {
		fmt.Fprintf(os.Stderr, "mailsync: crashpoint: stopping after step %d (%s)\n", count, kind)
		os.Exit(ExitCode)
	}
}
