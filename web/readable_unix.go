//go:build unix

package web

import (
	"net"
	"syscall"
)

// readable returns a function that parks the connection's reader until the client has sent
// something, with little more than itself on the reader's stack. A goroutine parked inside
// ws.Read needs the stack its read path grows to (8 KiB, every idle connection's largest
// cost); parked here, on a goroutine of its own (see wsConn.read), it keeps the 2 KiB it
// started with.
// The socket is peeked, not read: what the client sent stays for ws.Read, and what it sent
// before the wait is not waited for (what the reader's buffer holds is the caller's to check).
// Connections that are not sockets wait inside ws.Read.
func readable(conn net.Conn) func() error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return func() error { return nil }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() error { return nil }
	}
	var peek [1]byte
	sent := func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Data, the end of the stream, or an error: ws.Read is to see it.
		return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	}
	return func() error { return raw.Read(sent) }
}
