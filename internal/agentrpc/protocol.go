package agentrpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Version is the protocol version this package speaks. A ping carries it both ways: the
// server rejects a ping from a client of another version, and [Client.Ping] rejects a reply
// from a server of another version. Bump it on any incompatible change of the framing or of
// a payload.
const Version = 2

// Method names: the second frame of a request. They keep the names of Backend.AI's agent RPC
// methods so that each maps 1:1 onto its Backend.AI counterpart.
const (
	MethodCreateKernels   = "create_kernels"
	MethodDestroyKernel   = "destroy_kernel"
	MethodRestartKernel   = "restart_kernel"
	MethodExecute         = "execute"
	MethodInterruptKernel = "interrupt_kernel"
	MethodGetLogs         = "get_logs"
	MethodUploadFile      = "upload_file"
	MethodListFiles       = "list_files"
	MethodWalkFiles       = "walk_files"
	MethodReadFile        = "read_file"
	MethodPing            = "ping"
	MethodSyncKernels     = "sync_kernel_registry"
)

// Reply status frames.
const (
	statusOK    = "ok"
	statusError = "error"
)

// idLen is the length of the request-id frame: a big-endian uint64.
const idLen = 8

func encodeID(id uint64) []byte {
	b := make([]byte, idLen)
	binary.BigEndian.PutUint64(b, id)
	return b
}

func decodeID(b []byte) (uint64, bool) {
	if len(b) != idLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// ErrorKind classifies a [RemoteError]. The manager tells the caller's mistakes
// (KindInvalidInput, KindTooLarge, KindNotFound of a [RemoteError.Field]) from the agent's
// failures (everything else) by the kind alone, never by the message.
type ErrorKind string

// The error kinds an agent may send.
const (
	// KindInvalidInput: the request was malformed or its arguments were rejected (a path
	// that escapes the working directory, names a directory where a file is needed or goes
	// through a file, a name too long, a batch option of the wrong type, a second run while
	// one is going); [RemoteError.Field] names the argument when one is at fault.
	KindInvalidInput ErrorKind = "invalid-input"
	// KindNotFound: the kernel, file or other object named in the request does not exist.
	// With a [RemoteError.Field] the missing object is the one that argument names (a file
	// for "path"); without one it is the kernel.
	KindNotFound ErrorKind = "not-found"
	// KindTooLarge: what the request names exceeds a limit the request set (a download past
	// [WalkFilesRequest.MaxBytes] or MaxEntries).
	KindTooLarge ErrorKind = "too-large"
	// KindTimeout: the agent gave up on an operation of its own (an image pull, a container
	// start) because it took too long.
	KindTimeout ErrorKind = "timeout"
	// KindFailure: anything else that went wrong on the agent, including a handler panic and
	// a request cut short because the agent is shutting down.
	KindFailure ErrorKind = "failure"
	// KindUnknownMethod: the agent does not implement the method.
	KindUnknownMethod ErrorKind = "unknown-method"
)

// RemoteError is an error reply from the agent. A [Handler] returns one to choose the kind
// the manager sees; any other error a handler returns travels as KindFailure with the
// error's text as Message. On the client side every error reply comes back as a
// *RemoteError (wrapped with the agent address and method; use errors.As).
type RemoteError struct {
	// Kind classifies the error.
	Kind ErrorKind `msgpack:"kind"`
	// Message is a human-readable description.
	Message string `msgpack:"message"`
	// Field names the request argument at fault ("path", "options.exec"), if any.
	Field string `msgpack:"field,omitempty"`
	// Details carries optional structured data (for example the offending field).
	Details map[string]any `msgpack:"details,omitempty"`
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("agent error (%s): %s", e.Kind, e.Message)
}

// Is reports a KindTimeout error as [ErrTimeout], so one errors.Is check covers both an agent
// that did not answer and an agent that answered that it ran out of time.
func (e *RemoteError) Is(target error) bool {
	return target == ErrTimeout && e.Kind == KindTimeout
}

// Errorf returns a *RemoteError of the given kind with a formatted message.
func Errorf(kind ErrorKind, format string, args ...any) *RemoteError {
	return &RemoteError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns a *RemoteError of the given kind about the request argument field,
// with a formatted message.
func FieldErrorf(kind ErrorKind, field, format string, args ...any) *RemoteError {
	return &RemoteError{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

// toRemoteError turns whatever a handler returned into the error reply sent on the wire.
func toRemoteError(err error) *RemoteError {
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &RemoteError{Kind: KindTimeout, Message: err.Error()}
	}
	return &RemoteError{Kind: KindFailure, Message: err.Error()}
}

var (
	// ErrTimeout is matched (errors.Is) by every call that ended because its deadline passed
	// before the agent answered; the concrete error is a [*TimeoutError]. A [RemoteError] of
	// KindTimeout matches it too.
	ErrTimeout = errors.New("agent did not answer in time")
	// ErrClosed is returned by calls on a closed [Client] or [Pool], by calls still waiting
	// when their client is closed, and by [Server.Serve] on a closed server.
	ErrClosed = errors.New("agentrpc: closed")
	// ErrVersionMismatch is returned by [Client.Ping] when the agent speaks another protocol
	// [Version].
	ErrVersionMismatch = errors.New("agentrpc: protocol version mismatch")
)

// TimeoutError is the error of a call whose deadline passed before a reply came: either the
// context's deadline or, when the context had none, [ClientOptions.Timeout].
type TimeoutError struct {
	// Addr is the agent's endpoint.
	Addr string
	// Method is the RPC method called.
	Method string
	// Timeout is how long the call waited.
	Timeout time.Duration
	// Sent reports whether the request left the client. False means no connection to the
	// agent was established before the deadline: the agent is down or unreachable.
	Sent bool
}

// Error implements error.
func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("agent at %s did not answer %s within %s", e.Addr, e.Method, roundTimeout(e.Timeout))
	if !e.Sent {
		msg += " (no connection to the agent: it is down or unreachable)"
	}
	return msg
}

// Is makes a TimeoutError match [ErrTimeout] and context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func roundTimeout(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d
	}
}

// CallError wraps an error of a call other than a timeout (a [RemoteError], [ErrClosed], a
// cancelled context, an undecodable reply) with the agent address and the method.
type CallError struct {
	// Addr is the agent's endpoint.
	Addr string
	// Method is the RPC method called.
	Method string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *CallError) Error() string {
	return fmt.Sprintf("agent at %s: %s: %v", e.Addr, e.Method, e.Err)
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

type requestIDKey struct{}

// RequestID returns the id of the request a handler is serving, for logs. The id is unique
// per client connection, not across clients.
func RequestID(ctx context.Context) (uint64, bool) {
	id, ok := ctx.Value(requestIDKey{}).(uint64)
	return id, ok
}

// unmarshal decodes a msgpack body. Values decoded into `any` (the Options, ResourceOpts,
// Details ... maps) come out as string, bool, int64, uint64, float64, []any or
// map[string]any, whatever integer width the sender used.
func unmarshal(data []byte, v any) error {
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(data))
	dec.UseLooseInterfaceDecoding(true)
	return dec.Decode(v)
}
