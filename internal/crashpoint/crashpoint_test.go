package crashpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEnvironmentArmsOnlyFailpointBuilds runs Step in a child process
// with MAILSYNC_CRASH_AFTER=1: a build without the tag (every release
// binary) must carry on, a failpoint build must stop with ExitCode.
func TestEnvironmentArmsOnlyFailpointBuilds(t *testing.T) {
	if os.Getenv("CRASHPOINT_TEST_CHILD") != "" {
		Step("test")
		os.Exit(0)
	}
	log := filepath.Join(t.TempDir(), "steps")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvironmentArmsOnlyFailpointBuilds$")
	cmd.Env = append(os.Environ(), "CRASHPOINT_TEST_CHILD=1", "MAILSYNC_CRASH_AFTER=1", "MAILSYNC_STEP_LOG="+log)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	_, logErr := os.Stat(log)
	if Enabled {
		if code != ExitCode || logErr != nil {
			t.Fatalf("failpoint build: exit %d (want %d), step log: %v", code, ExitCode, logErr)
		}
		return
	}
	if code != 0 || logErr == nil {
		t.Fatalf("build without %s was armed by the environment: exit %d, step log written: %v", Tag, code, logErr == nil)
	}
}
