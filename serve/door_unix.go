//go:build unix

package serve

import (
	"net"
	"syscall"
)

// readNow reads what c's client has already sent into buf, without
// waiting for more, and returns how many bytes that was (0 for none).
func readNow(c net.Conn, buf []byte) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		if k, err := syscall.Read(int(fd), buf); err == nil && k > 0 {
			n = k
		}
		return true // done either way: never wait for the client here
	})
	return n
}
