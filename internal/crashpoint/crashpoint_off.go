//go:build !mailsync_failpoints

package crashpoint

// Enabled is false: this build has no failpoints.
const Enabled = false

// Step does nothing in a build without failpoints.
func Step(kind string) {}
