package agentrpc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// newSocket creates a socket in ZeroMQ's default context with LINGER 0: nothing is kept
// for a peer once the socket is closed.
func newSocket(t zmq.Type) (*zmq.Socket, error) {
	s, err := zmq.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("agentrpc: new %s socket: %w", t, err)
	}
	if err := s.SetLinger(0); err != nil {
		s.Close()
		return nil, fmt.Errorf("agentrpc: set linger: %w", err)
	}
	return s, nil
}

// socketWaiter lets a goroutine sleep until a ZeroMQ socket may have something to do,
// parked in Go's netpoller rather than blocked in a cgo call.
//
// ZeroMQ signals a socket's pending work through ZMQ_FD, a file descriptor that becomes
// readable (edge-triggered) whenever commands reach the socket. The waiter registers a
// duplicate of that descriptor with Go's netpoller through an *os.File; it never reads it.
// Whoever wakes must bring the socket up to date with non-blocking calls until they report
// EAGAIN (recv) or ZMQ_EVENTS shows nothing left, because ZeroMQ only signals again for
// commands that arrive after that.
type socketWaiter struct {
	file *os.File
	conn syscall.RawConn
}

func newSocketWaiter(s *zmq.Socket) (*socketWaiter, error) {
	fd, err := s.GetFd()
	if err != nil {
		return nil, fmt.Errorf("agentrpc: ZMQ_FD: %w", err)
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("agentrpc: dup ZMQ_FD: %w", err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "zmq-fd")
	// Only descriptors registered with the netpoller support deadlines.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("agentrpc: ZMQ_FD is not pollable: %w", err)
	}
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("agentrpc: ZMQ_FD: %w", err)
	}
	return &socketWaiter{file: f, conn: conn}, nil
}

// run calls step once, then again each time the socket signals, until step returns true
// (run returns nil) or the waiter is interrupted or closed (run returns the error).
func (w *socketWaiter) run(step func() bool) error {
	return w.conn.Read(func(uintptr) bool { return step() })
}

// interrupt makes a running run return.
func (w *socketWaiter) interrupt() {
	_ = w.file.SetReadDeadline(time.Unix(1, 0))
}

// close releases the descriptor; a running run returns.
func (w *socketWaiter) close() {
	_ = w.file.Close()
}

// isAgain reports a ZeroMQ EAGAIN: nothing to receive, or no peer to send to yet.
func isAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}

// normalizeAddr turns "host:port" into "tcp://host:port" and leaves other endpoints alone.
func normalizeAddr(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("agentrpc: empty address")
	}
	if !strings.Contains(addr, "://") {
		addr = "tcp://" + addr
	}
	return addr, nil
}
