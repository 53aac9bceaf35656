//go:build !unix

package web

import "net"

// readable waits for nothing where sockets cannot be peeked: the reader waits inside ws.Read.
func readable(net.Conn) func() error { return func() error { return nil } }
