package dovecottest

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr makes the kernel stop dovecot when the test binary dies
// without running its cleanups.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
