//go:build unix

package smtpd

import (
	"net"
	"syscall"
)

// socketPending peeks, without waiting and without consuming anything, at
// what the kernel holds unread on c: up to 100 octets, and whether there
// were any.
func socketPending(c net.Conn) ([]byte, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	buf := make([]byte, 100)
	n := 0
	err = rc.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	if err != nil || n <= 0 {
		return nil, false
	}
	return buf[:n], true
}
