//go:build !unix

package faults

import "syscall"

// rcvBuf returns nil: the receive buffer stays the system's default.
func rcvBuf(int) func(network, address string, c syscall.RawConn) error { return nil }
