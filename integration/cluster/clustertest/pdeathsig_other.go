//go:build !linux

package clustertest

import "os/exec"

// dieWithParent does nothing outside Linux, where a process cannot ask to
// be signalled when its parent dies.
func dieWithParent(*exec.Cmd) {}
