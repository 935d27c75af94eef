//go:build !unix

package smtpd

import "net"

// socketPending cannot peek at the socket here: only input already read
// into the session's buffer counts as pending.
func socketPending(net.Conn) ([]byte, bool) { return nil, false }
