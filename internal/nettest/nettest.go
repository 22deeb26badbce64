// Package nettest gives tests local TCP addresses that behave like a service that is down or
// hung. Use it only from _test.go files.
package nettest

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// ClosedAddr returns a local TCP address ("127.0.0.1:port") nothing listens on: a service
// that is down, so connecting is refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// SilentServer returns the address of a local listener that accepts connections and never
// answers: a hung server, the worst case for a client. It and its connections close when the
// test ends.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
