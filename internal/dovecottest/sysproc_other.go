//go:build !linux

package dovecottest

import "os/exec"

func setSysProcAttr(cmd *exec.Cmd) {}
