package clustertest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd's process get SIGTERM when the test process dies
// without stopping it (a test timeout's panic, a kill): no redis-server,
// nginx or instance outlives the tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
