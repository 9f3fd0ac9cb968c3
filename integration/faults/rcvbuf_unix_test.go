//go:build unix

package faults

import "syscall"

// rcvBuf returns a net.Dialer Control that sets the socket's receive buffer
// to n bytes before it connects, so that the window TCP advertises, and
// the segment size, are that small from the start.
func rcvBuf(n int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}); cerr != nil {
			return cerr
		}
		return err
	}
}
