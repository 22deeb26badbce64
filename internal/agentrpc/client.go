package agentrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/vmihailenco/msgpack/v5"
)

// ClientOptions configures a [Client]. The zero value is usable.
type ClientOptions struct {
	// Timeout bounds calls whose context has no deadline; 10 s when zero. A context deadline,
	// shorter or longer, takes precedence.
	Timeout time.Duration
	// Logger receives the client's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// ReconnectInterval is the first delay before reconnecting to the agent; 100 ms when
	// zero. It doubles after each failed attempt up to ReconnectIntervalMax.
	ReconnectInterval time.Duration
	// ReconnectIntervalMax caps the reconnection delay; 5 s when zero.
	ReconnectIntervalMax time.Duration
	// Heartbeat is the interval of ZeroMQ heartbeats on the connection; the connection is
	// dropped (and re-established) when the agent does not answer them for three intervals.
	// 5 s when zero; negative disables heartbeats.
	Heartbeat time.Duration
}

// Client is the manager side of the protocol for one agent: a ZeroMQ DEALER socket connected
// to the agent's address. It is safe for concurrent use; concurrent calls are multiplexed on
// the one socket and matched to their replies by request id. See the package documentation
// for its concurrency model.
type Client struct {
	addr   string
	opts   ClientOptions
	logger *slog.Logger
	waiter *socketWaiter
	done   chan struct{} // closed when the receiver has exited and the socket is closed

	mu      sync.Mutex
	dealer  *zmq.Socket      // used only with mu held
	pending map[uint64]*call // calls waiting for a reply
	backlog []*call          // pending calls not yet handed to the socket, in order
	nextID  uint64
	closed  bool
}

// call is one request in flight. Its fields other than done are guarded by Client.mu.
type call struct {
	id     uint64
	frames [][]byte        // [id, method, body]; dropped once sent
	sent   bool            // the request was handed to the DEALER socket
	done   chan callResult // buffered: nobody waits for the caller
}

type callResult struct {
	status string
	body   []byte
	err    error
}

// finish hands a result to the caller without ever blocking.
func (cl *call) finish(res callResult) {
	select {
	case cl.done <- res:
	default:
	}
}

// Dial returns a client for the agent at addr ("tcp://10.0.0.5:6001"; a bare "host:port"
// means TCP). It does not wait for the connection: ZeroMQ connects in the background and
// reconnects whenever the connection drops. A request is sent only over an established
// connection; one that cannot be sent before its deadline fails with a [*TimeoutError] whose
// Sent is false.
func Dial(addr string, opts ClientOptions) (*Client, error) {
	addr, err := normalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReconnectInterval <= 0 {
		opts.ReconnectInterval = 100 * time.Millisecond
	}
	if opts.ReconnectIntervalMax <= 0 {
		opts.ReconnectIntervalMax = 5 * time.Second
	}
	if opts.ReconnectIntervalMax < opts.ReconnectInterval {
		opts.ReconnectIntervalMax = opts.ReconnectInterval
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 5 * time.Second
	}
	dealer, err := newSocket(zmq.DEALER)
	if err != nil {
		return nil, err
	}
	setup := []error{
		// Queue messages only on completed connections, so nothing piles up for an agent
		// that is down; the client keeps unsent requests itself and drops them at their
		// deadline.
		dealer.SetImmediate(true),
		dealer.SetReconnectIvl(opts.ReconnectInterval),
		dealer.SetReconnectIvlMax(opts.ReconnectIntervalMax),
		dealer.SetTcpKeepalive(1),
		dealer.SetTcpKeepaliveIdle(60),
		dealer.SetTcpKeepaliveIntvl(20),
		dealer.SetTcpKeepaliveCnt(3),
	}
	if opts.Heartbeat > 0 {
		setup = append(setup,
			dealer.SetHeartbeatIvl(opts.Heartbeat),
			dealer.SetHeartbeatTimeout(3*opts.Heartbeat),
			dealer.SetHeartbeatTtl(3*opts.Heartbeat),
		)
	}
	if err := errors.Join(setup...); err != nil {
		dealer.Close()
		return nil, fmt.Errorf("agentrpc: configure DEALER socket: %w", err)
	}
	if err := dealer.Connect(addr); err != nil {
		dealer.Close()
		return nil, fmt.Errorf("agentrpc: connect %s: %w", addr, err)
	}
	waiter, err := newSocketWaiter(dealer)
	if err != nil {
		dealer.Close()
		return nil, err
	}
	c := &Client{
		addr:    addr,
		opts:    opts,
		logger:  opts.Logger.With("component", "agentrpc-client", "agent", addr),
		waiter:  waiter,
		done:    make(chan struct{}),
		dealer:  dealer,
		pending: make(map[uint64]*call),
	}
	go c.receive()
	return c, nil
}

// Addr returns the agent's endpoint.
func (c *Client) Addr() string { return c.addr }

// Close fails the calls in flight with [ErrClosed], closes the socket and waits for the
// client's goroutine to exit. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		c.waiter.interrupt()
	}
	<-c.done
	return nil
}

// InFlight returns the number of calls waiting for a reply. Calls that time out are removed
// at once, so for an agent that is down it returns to zero as soon as the callers gave up.
func (c *Client) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// isClosed reports whether the client was closed.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// receive is the client's goroutine: it sleeps in the netpoller until the socket signals,
// then reads replies and sends the backlog.
func (c *Client) receive() {
	defer close(c.done)
	err := c.waiter.run(func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return true
		}
		c.pumpLocked()
		return false
	})
	c.mu.Lock()
	if !c.closed {
		c.logger.Error("waiting on the socket failed; closing the client", "err", err)
		c.closed = true
	}
	for _, cl := range c.pending {
		cl.finish(callResult{err: ErrClosed})
	}
	c.pending, c.backlog = nil, nil
	if err := c.dealer.Close(); err != nil {
		c.logger.Warn("close DEALER socket", "err", err)
	}
	c.mu.Unlock()
	c.waiter.close()
}

// pumpLocked reads every reply that has arrived and sends as much of the backlog as the
// socket takes, until ZMQ_EVENTS shows nothing more to do. mu must be held.
func (c *Client) pumpLocked() {
	for {
		for {
			frames, err := c.dealer.RecvMessageBytes(zmq.DONTWAIT)
			if err != nil {
				if !isAgain(err) {
					c.logger.Warn("receive", "err", err)
					return
				}
				break
			}
			c.deliverLocked(frames)
		}
		c.flushLocked()
		events, err := c.dealer.GetEvents()
		if err != nil {
			c.logger.Warn("ZMQ_EVENTS", "err", err)
			return
		}
		if events&zmq.POLLIN == 0 && (len(c.backlog) == 0 || events&zmq.POLLOUT == 0) {
			return
		}
	}
}

// deliverLocked matches a reply [id, status, body] to its call. Replies to calls that were
// abandoned (their caller timed out) find no call and are dropped. mu must be held.
func (c *Client) deliverLocked(frames [][]byte) {
	if len(frames) != 3 {
		c.logger.Warn("dropping malformed reply", "frames", len(frames))
		return
	}
	id, ok := decodeID(frames[0])
	if !ok {
		c.logger.Warn("dropping reply with a malformed id", "id_bytes", len(frames[0]))
		return
	}
	cl := c.pending[id]
	if cl == nil {
		c.logger.Debug("dropping late reply", "id", id)
		return
	}
	delete(c.pending, id)
	cl.finish(callResult{status: string(frames[1]), body: frames[2]})
}

// flushLocked sends the backlog in order until the socket refuses (EAGAIN: with
// ZMQ_IMMEDIATE, no connection is established). mu must be held.
func (c *Client) flushLocked() {
	n := 0
	for _, cl := range c.backlog {
		if _, err := c.dealer.SendMessageDontwait(cl.frames); err != nil {
			if isAgain(err) {
				break
			}
			delete(c.pending, cl.id)
			cl.finish(callResult{err: fmt.Errorf("send: %w", err)})
		} else {
			cl.frames = nil
			cl.sent = true
		}
		n++
	}
	if n == 0 {
		return
	}
	rest := copy(c.backlog, c.backlog[n:])
	clear(c.backlog[rest:])
	c.backlog = c.backlog[:rest]
}

// abandon forgets a call whose caller stopped waiting and reports whether it was sent.
func (c *Client) abandon(cl *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[cl.id]; ok {
		delete(c.pending, cl.id)
		if !cl.sent {
			c.backlog = slices.DeleteFunc(c.backlog, func(b *call) bool { return b == cl })
		}
	}
	return cl.sent
}

// call sends one request and waits for its reply, its deadline or the client's closing.
// When rep is not nil an "ok" reply is decoded into it.
func (c *Client) call(ctx context.Context, method string, req, rep any) error {
	body, err := msgpack.Marshal(req)
	if err != nil {
		return &CallError{Addr: c.addr, Method: method, Err: fmt.Errorf("encode request: %w", err)}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	timeout := time.Until(deadline)
	if err := ctx.Err(); err != nil {
		return c.ctxError(method, timeout, false, err)
	}

	cl := &call{done: make(chan callResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &CallError{Addr: c.addr, Method: method, Err: ErrClosed}
	}
	c.nextID++
	cl.id = c.nextID
	cl.frames = [][]byte{encodeID(cl.id), []byte(method), body}
	c.pending[cl.id] = cl
	c.backlog = append(c.backlog, cl)
	// Not just flushLocked: the send may process ZeroMQ commands and so consume the signal
	// meant to wake the receiver; whoever touches the socket finishes the work it signals.
	c.pumpLocked()
	c.mu.Unlock()

	select {
	case res := <-cl.done:
		return c.result(method, res, rep)
	case <-ctx.Done():
		sent := c.abandon(cl)
		return c.ctxError(method, timeout, sent, ctx.Err())
	}
}

func (c *Client) ctxError(method string, timeout time.Duration, sent bool, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Addr: c.addr, Method: method, Timeout: max(timeout, 0), Sent: sent}
	}
	return &CallError{Addr: c.addr, Method: method, Err: err}
}

func (c *Client) result(method string, res callResult, rep any) error {
	if res.err != nil {
		return &CallError{Addr: c.addr, Method: method, Err: res.err}
	}
	switch res.status {
	case statusOK:
		if rep == nil {
			return nil
		}
		if err := unmarshal(res.body, rep); err != nil {
			return &CallError{Addr: c.addr, Method: method, Err: fmt.Errorf("undecodable reply: %w", err)}
		}
		return nil
	case statusError:
		re := new(RemoteError)
		if err := unmarshal(res.body, re); err != nil {
			return &CallError{Addr: c.addr, Method: method, Err: fmt.Errorf("undecodable error reply: %w", err)}
		}
		return &CallError{Addr: c.addr, Method: method, Err: re}
	default:
		return &CallError{Addr: c.addr, Method: method, Err: fmt.Errorf("reply with unknown status %q", res.status)}
	}
}

func invoke[Rep any](ctx context.Context, c *Client, method string, req any) (*Rep, error) {
	rep := new(Rep)
	if err := c.call(ctx, method, req, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// CreateKernels asks the agent to create the kernels of one session.
func (c *Client) CreateKernels(ctx context.Context, req *CreateKernelsRequest) (*CreateKernelsReply, error) {
	return invoke[CreateKernelsReply](ctx, c, MethodCreateKernels, req)
}

// DestroyKernel asks the agent to destroy a kernel; it returns once the kernel is cleaned up.
func (c *Client) DestroyKernel(ctx context.Context, req *DestroyKernelRequest) error {
	return c.call(ctx, MethodDestroyKernel, req, nil)
}

// RestartKernel asks the agent to restart a kernel in place.
func (c *Client) RestartKernel(ctx context.Context, req *RestartKernelRequest) (*KernelCreated, error) {
	return invoke[KernelCreated](ctx, c, MethodRestartKernel, req)
}

// Execute runs code in a kernel. The context's deadline must exceed req.FlushTimeout.
func (c *Client) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	return invoke[ExecuteResult](ctx, c, MethodExecute, req)
}

// InterruptKernel interrupts the code running in a kernel.
func (c *Client) InterruptKernel(ctx context.Context, req *InterruptKernelRequest) error {
	return c.call(ctx, MethodInterruptKernel, req, nil)
}

// GetLogs returns a kernel's container log.
func (c *Client) GetLogs(ctx context.Context, req *GetLogsRequest) (*GetLogsReply, error) {
	return invoke[GetLogsReply](ctx, c, MethodGetLogs, req)
}

// UploadFile writes a file into a kernel.
func (c *Client) UploadFile(ctx context.Context, req *UploadFileRequest) error {
	return c.call(ctx, MethodUploadFile, req, nil)
}

// ListFiles lists a directory in a kernel.
func (c *Client) ListFiles(ctx context.Context, req *ListFilesRequest) (*ListFilesReply, error) {
	return invoke[ListFilesReply](ctx, c, MethodListFiles, req)
}

// WalkFiles describes a file, or a directory tree when req.Recursive is set, before a
// download reads it; it fails with a [KindTooLarge] error past req.MaxBytes or MaxEntries.
func (c *Client) WalkFiles(ctx context.Context, req *WalkFilesRequest) (*WalkFilesReply, error) {
	return invoke[WalkFilesReply](ctx, c, MethodWalkFiles, req)
}

// ReadFile reads one chunk of at most [MaxChunk] bytes of a regular file in a kernel.
func (c *Client) ReadFile(ctx context.Context, req *ReadFileRequest) (*ReadFileReply, error) {
	rep, err := invoke[ReadFileReply](ctx, c, MethodReadFile, req)
	if err != nil {
		return nil, err
	}
	if len(rep.Data) > ClampChunk(req.Length) {
		return nil, &CallError{Addr: c.addr, Method: MethodReadFile, Err: fmt.Errorf(
			"reply of %d bytes exceeds the requested %d", len(rep.Data), ClampChunk(req.Length))}
	}
	return rep, nil
}

// Ping checks that the agent is alive and speaks this protocol [Version]. It sends its own
// Version whatever req.Version says, and fails with [ErrVersionMismatch] when the agent
// answers with another one (an agent of another version rejects the ping with a
// [KindInvalidInput] error).
func (c *Client) Ping(ctx context.Context, req *PingRequest) (*PingReply, error) {
	r := *req
	r.Version = Version
	rep, err := invoke[PingReply](ctx, c, MethodPing, &r)
	if err != nil {
		return nil, err
	}
	if rep.Version != Version {
		return rep, &CallError{Addr: c.addr, Method: MethodPing, Err: fmt.Errorf(
			"%w: the agent speaks version %d, this manager version %d", ErrVersionMismatch, rep.Version, Version)}
	}
	return rep, nil
}

// SyncKernels tells the agent which of its kernels the manager believes are alive.
func (c *Client) SyncKernels(ctx context.Context, req *SyncKernelsRequest) (*SyncKernelsReply, error) {
	return invoke[SyncKernelsReply](ctx, c, MethodSyncKernels, req)
}
