// Package agentrpc is the protocol between the Hangar manager and its agents: the wire
// types, the agent-side [Server] and the manager-side [Client] and [Pool], over ZeroMQ
// (github.com/pebbe/zmq4, libzmq) with msgpack bodies.
//
// The methods and their arguments keep the names and shapes of Backend.AI's agent RPC
// (create_kernels, destroy_kernel, restart_kernel, execute, interrupt_kernel, get_logs,
// upload_file, list_files, ping, sync_kernel_registry) so each maps 1:1 onto its Backend.AI
// counterpart, but the framing is Hangar's own: Hangar's agent speaks it, and Backend.AI's
// Python agent does not. This package imports no other Hangar package.
//
// Downloads are Hangar's own: Backend.AI's download_file and download_single answer a whole
// file (or tar archive) in one reply, which lets one large or sparse file exhaust the memory
// of the agent and the manager. Here walk_files first describes what would be read (one
// regular file, or a tree, with the sum of the apparent sizes, refused with too-large past
// the caller's limit before anything is read), then read_file reads one regular file chunk
// by chunk, at most [MaxChunk] bytes per reply, by offset. Each read opens, reads and closes
// the file within the call, so the agent keeps nothing open between chunks: a client that
// reads slowly or goes away holds no file handle and no memory on the agent. The manager
// builds tar archives itself, over the chunks.
//
// # Framing
//
// The agent binds a ROUTER socket (port 6001 by convention); the manager connects one DEALER
// socket per agent. Every message is multipart:
//
//	request: [request id, method, body]
//	reply:   [request id, status, body]
//
// The request id is 8 bytes, a big-endian uint64 the client picks (unique per client); the
// reply echoes it, and that is how the client matches replies to concurrent calls. The method
// is one of the Method* constants. Both bodies are msgpack maps whose keys are the msgpack
// tags of the request and reply structs (snake_case). Status is "ok", with the method's reply
// as body (msgpack nil for methods without a result), or "error", with a [RemoteError]
// {kind, message, field, details} as body. Kinds are invalid-input, not-found, too-large,
// timeout, failure and unknown-method; field names the request argument at fault. The
// manager answers the caller's mistakes (invalid-input, too-large, not-found of a field) as
// the caller's errors and the rest as the agent's failures, by kind, never by message. Unknown map keys are ignored on decoding, so fields can be added without
// a version bump; values decoded into `any` come out as int64, uint64, float64, string, bool,
// []any or map[string]any. The protocol [Version] travels in ping: the server rejects a
// ping of another version with invalid-input, and the client rejects a reply of another
// version with [ErrVersionMismatch].
//
// A request with fewer than 4 frames (ROUTER identity included) or an id that is not 8 bytes
// is logged and dropped; an unknown method is answered with unknown-method, a body that does
// not decode with invalid-input, a handler panic with failure.
//
// # Concurrency model
//
// A ZeroMQ socket is not thread-safe, but libzmq allows one to move between threads behind a
// full memory barrier. Here each socket is guarded by a mutex, and every ZeroMQ call on it
// happens with the mutex held. The mutex hand-over is that barrier, and it keeps the calls
// apart. No goroutine ever blocks inside libzmq: every receive and send is non-blocking
// (ZMQ_DONTWAIT). A goroutine that has to wait for the socket sleeps in Go's netpoller on a
// duplicate of the socket's ZMQ_FD, the descriptor through which libzmq signals pending work.
// So a waiting client or server holds neither an OS thread nor a scheduler P. Thousands of
// agent clients cost a goroutine each. Readied goroutines never queue behind a thread stuck
// in a cgo call.
//
// ZMQ_FD is edge-triggered, and the edge is lost when another goroutine's ZeroMQ call
// consumes the signal first. Hence the rule that keeps wake-ups from being lost: whoever
// touches a socket finishes the work that socket has pending. It receives until EAGAIN (a
// non-blocking receive processes libzmq's commands before it says EAGAIN) and, on the
// client, until ZMQ_EVENTS shows nothing left to do. Only then does it unlock.
//
// Server: [Server.Serve]'s goroutine sleeps on the ROUTER's descriptor. When woken it
// receives requests and hands them to a pool of [ServerOptions.Workers] goroutines through
// a channel. That channel is never full, because at most Workers requests are in flight.
// With every worker busy the server stops receiving, and further requests wait in ZeroMQ's
// queues and the TCP buffers: that is the back-pressure. A worker runs the [Handler], then
// takes the mutex, sends the reply on the ROUTER, and receives the next requests itself
// (there is free capacity again). Shutdown, on the context's cancellation or [Server.Close]:
// the server stops receiving and cancels the handlers' context. It waits up to
// [ServerOptions.ShutdownTimeout] for the running handlers, whose replies still go out
// (usually a failure "agent is shutting down"). It keeps the connections open for 200 ms
// after the last reply, because a client that loses its connection drops the replies it
// has received but not yet read. Then it closes the socket.
//
// Client: a caller encodes its request, takes the mutex, registers the call under a fresh id
// in the pending map, appends it to the backlog, sends the backlog, receives and delivers
// any replies that are waiting, and waits on its own channel. One receiver goroutine sleeps
// on the DEALER's descriptor. When woken it receives replies, hands each to the caller whose
// id it carries (a buffered channel, so it never waits for a caller), and sends the backlog.
// The DEALER has ZMQ_IMMEDIATE set, so it refuses to queue while no connection to the agent
// is established. Unsent requests stay in the backlog until the connection comes up or
// their caller gives up. A request is thus never delivered to an agent long after its
// caller stopped waiting. Every call has a deadline: the context's, or
// [ClientOptions.Timeout] (10 s) when the context has none. At the deadline the caller
// removes its call from the pending map and the backlog, and returns a [*TimeoutError] that
// matches [ErrTimeout] and names the agent and method ("agent at tcp://10.0.0.5:6001 did not
// answer create_kernels within 10s"). When the request never left the client, the error adds
// that no connection to the agent could be established. A reply that arrives later finds no
// call and is dropped. So a dead agent neither hangs callers nor accumulates memory.
// ZeroMQ heartbeats ([ClientOptions.Heartbeat]) drop a connection to an agent that stopped
// answering, and exponential reconnection (100 ms up to 5 s) re-establishes it when the
// agent returns. Sockets have LINGER 0, except the server's ROUTER (100 ms, to flush its
// final replies).
//
// [Pool] caches one client per agent address for the manager. [Pool.Forget] closes and
// drops a client (an agent that left); its calls in flight fail with [ErrClosed].
//
// # Errors seen by the manager
//
// A call fails with one of these:
//   - [*TimeoutError] (errors.Is ErrTimeout and context.DeadlineExceeded) when no reply came
//     in time;
//   - [*CallError] wrapping a [*RemoteError] when the agent answered with an error (use
//     errors.As; a KindTimeout RemoteError also matches ErrTimeout);
//   - [*CallError] wrapping [ErrClosed], a context cancellation or an undecodable reply.
package agentrpc
