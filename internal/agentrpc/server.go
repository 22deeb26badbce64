package agentrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/vmihailenco/msgpack/v5"
)

// Handler implements the agent side of the protocol, one method per RPC. A method returns a
// [*RemoteError] (possibly wrapped) to send an error of a chosen kind; any other error is sent
// as [KindFailure] with its text, and context.DeadlineExceeded as [KindTimeout]. The context
// is cancelled when the server shuts down; handlers must return promptly then. Methods are
// called concurrently, from up to [ServerOptions.Workers] goroutines. Embed
// [UnimplementedHandler] to answer the methods one does not implement with
// [KindUnknownMethod].
type Handler interface {
	// CreateKernels creates the kernels of one session (create_kernels).
	CreateKernels(ctx context.Context, req *CreateKernelsRequest) (*CreateKernelsReply, error)
	// DestroyKernel destroys a kernel and returns once it is cleaned up (destroy_kernel).
	DestroyKernel(ctx context.Context, req *DestroyKernelRequest) error
	// RestartKernel restarts a kernel in place (restart_kernel).
	RestartKernel(ctx context.Context, req *RestartKernelRequest) (*KernelCreated, error)
	// Execute runs code in a kernel (execute).
	Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error)
	// InterruptKernel interrupts a kernel's running code (interrupt_kernel).
	InterruptKernel(ctx context.Context, req *InterruptKernelRequest) error
	// GetLogs returns a kernel's container log (get_logs).
	GetLogs(ctx context.Context, req *GetLogsRequest) (*GetLogsReply, error)
	// UploadFile writes a file into a kernel (upload_file).
	UploadFile(ctx context.Context, req *UploadFileRequest) error
	// ListFiles lists a directory in a kernel (list_files).
	ListFiles(ctx context.Context, req *ListFilesRequest) (*ListFilesReply, error)
	// WalkFiles describes a file or a directory tree before a download reads it
	// (walk_files).
	WalkFiles(ctx context.Context, req *WalkFilesRequest) (*WalkFilesReply, error)
	// ReadFile reads one chunk of a regular file (read_file). The server has clamped
	// req.Length to (0, MaxChunk] and refuses a reply with more data than that.
	ReadFile(ctx context.Context, req *ReadFileRequest) (*ReadFileReply, error)
	// Ping answers a ping (ping). The server has already checked the protocol version and
	// sets PingReply.Version itself.
	Ping(ctx context.Context, req *PingRequest) (*PingReply, error)
	// SyncKernels reconciles the agent's kernels with the manager's list
	// (sync_kernel_registry).
	SyncKernels(ctx context.Context, req *SyncKernelsRequest) (*SyncKernelsReply, error)
}

// UnimplementedHandler answers every method with a [KindUnknownMethod] error. Embed it in a
// Handler that implements only some methods.
type UnimplementedHandler struct{}

func unimplemented(method string) error {
	return Errorf(KindUnknownMethod, "method %s is not implemented by this agent", method)
}

// CreateKernels implements [Handler].
func (UnimplementedHandler) CreateKernels(context.Context, *CreateKernelsRequest) (*CreateKernelsReply, error) {
	return nil, unimplemented(MethodCreateKernels)
}

// DestroyKernel implements [Handler].
func (UnimplementedHandler) DestroyKernel(context.Context, *DestroyKernelRequest) error {
	return unimplemented(MethodDestroyKernel)
}

// RestartKernel implements [Handler].
func (UnimplementedHandler) RestartKernel(context.Context, *RestartKernelRequest) (*KernelCreated, error) {
	return nil, unimplemented(MethodRestartKernel)
}

// Execute implements [Handler].
func (UnimplementedHandler) Execute(context.Context, *ExecuteRequest) (*ExecuteResult, error) {
	return nil, unimplemented(MethodExecute)
}

// InterruptKernel implements [Handler].
func (UnimplementedHandler) InterruptKernel(context.Context, *InterruptKernelRequest) error {
	return unimplemented(MethodInterruptKernel)
}

// GetLogs implements [Handler].
func (UnimplementedHandler) GetLogs(context.Context, *GetLogsRequest) (*GetLogsReply, error) {
	return nil, unimplemented(MethodGetLogs)
}

// UploadFile implements [Handler].
func (UnimplementedHandler) UploadFile(context.Context, *UploadFileRequest) error {
	return unimplemented(MethodUploadFile)
}

// ListFiles implements [Handler].
func (UnimplementedHandler) ListFiles(context.Context, *ListFilesRequest) (*ListFilesReply, error) {
	return nil, unimplemented(MethodListFiles)
}

// WalkFiles implements [Handler].
func (UnimplementedHandler) WalkFiles(context.Context, *WalkFilesRequest) (*WalkFilesReply, error) {
	return nil, unimplemented(MethodWalkFiles)
}

// ReadFile implements [Handler].
func (UnimplementedHandler) ReadFile(context.Context, *ReadFileRequest) (*ReadFileReply, error) {
	return nil, unimplemented(MethodReadFile)
}

// Ping implements [Handler] with an echo and an empty agent id.
func (UnimplementedHandler) Ping(_ context.Context, req *PingRequest) (*PingReply, error) {
	return &PingReply{Payload: req.Payload}, nil
}

// SyncKernels implements [Handler].
func (UnimplementedHandler) SyncKernels(context.Context, *SyncKernelsRequest) (*SyncKernelsReply, error) {
	return nil, unimplemented(MethodSyncKernels)
}

// route decodes a request body, calls the handler and returns the reply to encode.
type route func(ctx context.Context, h Handler, body []byte) (any, error)

func decodeRequest[Req any](method string, body []byte) (*Req, error) {
	req := new(Req)
	if err := unmarshal(body, req); err != nil {
		return nil, Errorf(KindInvalidInput, "undecodable %s request: %v", method, err)
	}
	return req, nil
}

func typedRoute[Req, Rep any](method string, fn func(Handler, context.Context, *Req) (*Rep, error)) route {
	return func(ctx context.Context, h Handler, body []byte) (any, error) {
		req, err := decodeRequest[Req](method, body)
		if err != nil {
			return nil, err
		}
		return fn(h, ctx, req)
	}
}

func voidRoute[Req any](method string, fn func(Handler, context.Context, *Req) error) route {
	return func(ctx context.Context, h Handler, body []byte) (any, error) {
		req, err := decodeRequest[Req](method, body)
		if err != nil {
			return nil, err
		}
		return nil, fn(h, ctx, req)
	}
}

func pingRoute(ctx context.Context, h Handler, body []byte) (any, error) {
	req, err := decodeRequest[PingRequest](MethodPing, body)
	if err != nil {
		return nil, err
	}
	if req.Version != Version {
		return nil, &RemoteError{
			Kind:    KindInvalidInput,
			Message: fmt.Sprintf("protocol version %d is not supported: this agent speaks version %d", req.Version, Version),
			Details: map[string]any{"version": Version},
		}
	}
	rep, err := h.Ping(ctx, req)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		rep = &PingReply{Payload: req.Payload}
	}
	rep.Version = Version
	return rep, nil
}

// readFileRoute bounds a read_file exchange: the request's Length is clamped to
// (0, MaxChunk] before the handler sees it, and a reply carrying more than that is refused,
// so no chunk larger than MaxChunk is ever built or sent.
func readFileRoute(ctx context.Context, h Handler, body []byte) (any, error) {
	req, err := decodeRequest[ReadFileRequest](MethodReadFile, body)
	if err != nil {
		return nil, err
	}
	if req.Offset < 0 {
		return nil, FieldErrorf(KindInvalidInput, "offset", "negative offset %d", req.Offset)
	}
	req.Length = ClampChunk(req.Length)
	rep, err := h.ReadFile(ctx, req)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		rep = &ReadFileReply{EOF: true}
	}
	if len(rep.Data) > req.Length {
		return nil, Errorf(KindFailure, "read_file reply of %d bytes exceeds the requested %d", len(rep.Data), req.Length)
	}
	return rep, nil
}

// ClampChunk returns the read length a read_file request of length n gets: n within
// (0, MaxChunk], MaxChunk otherwise.
func ClampChunk(n int) int {
	if n <= 0 || n > MaxChunk {
		return MaxChunk
	}
	return n
}

// routes maps method names to their decoders; it is never modified.
var routes = map[string]route{
	MethodCreateKernels:   typedRoute(MethodCreateKernels, Handler.CreateKernels),
	MethodDestroyKernel:   voidRoute(MethodDestroyKernel, Handler.DestroyKernel),
	MethodRestartKernel:   typedRoute(MethodRestartKernel, Handler.RestartKernel),
	MethodExecute:         typedRoute(MethodExecute, Handler.Execute),
	MethodInterruptKernel: voidRoute(MethodInterruptKernel, Handler.InterruptKernel),
	MethodGetLogs:         typedRoute(MethodGetLogs, Handler.GetLogs),
	MethodUploadFile:      voidRoute(MethodUploadFile, Handler.UploadFile),
	MethodListFiles:       typedRoute(MethodListFiles, Handler.ListFiles),
	MethodWalkFiles:       typedRoute(MethodWalkFiles, Handler.WalkFiles),
	MethodReadFile:        readFileRoute,
	MethodPing:            pingRoute,
	MethodSyncKernels:     typedRoute(MethodSyncKernels, Handler.SyncKernels),
}

// ServerOptions configures a [Server]. The zero value is usable.
type ServerOptions struct {
	// Logger receives the server's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// Workers bounds the requests handled at once; 64 when zero. While all workers are busy
	// the server stops reading its socket and further requests wait in ZeroMQ's queues.
	Workers int
	// ShutdownTimeout bounds how long shutdown waits for running handlers after cancelling
	// their context; 10 s when zero. Replies of handlers still running after it are dropped.
	ShutdownTimeout time.Duration
	// MaxMessageSize, when positive, makes the server drop connections that send a larger
	// message (ZMQ_MAXMSGSIZE). Unlimited when zero.
	MaxMessageSize int64
	// Observe, when set, is called after every request with its method, how long the handler
	// took and the error sent back (nil on success), for metrics.
	Observe func(method string, took time.Duration, err error)
}

// Server is the agent side: a ZeroMQ ROUTER socket that decodes requests, calls a [Handler]
// on a bounded pool of workers and sends back the replies. See the package documentation for
// its concurrency model.
type Server struct {
	addr    string
	handler Handler
	opts    ServerOptions
	logger  *slog.Logger
	waiter  *socketWaiter

	mu             sync.Mutex
	router         *zmq.Socket // used only with mu held
	state          serverState
	done           chan struct{} // closed when Serve returns
	jobs           chan job      // requests for the workers; never full (see pullLocked)
	inflight       int           // requests handed to workers whose replies are not sent
	stopping       bool
	idle           chan struct{} // closed once stopping and nothing is in flight
	cancelHandlers context.CancelFunc
	sockClosed     bool
	lastSend       time.Time
}

type serverState int

const (
	serverIdle serverState = iota
	serverServing
	serverClosed
)

// routerLinger is how long a closed ROUTER socket keeps trying to deliver the replies it
// sent last.
const routerLinger = 100 * time.Millisecond

// replyGrace is how long a stopping server keeps its connections open after its last reply.
// A client that loses its connection discards the replies it received but had not read yet
// (libzmq drops a pipe's unread messages on disconnect under ZMQ_IMMEDIATE), so closing right
// after the final replies would lose some of them.
const replyGrace = 200 * time.Millisecond

// NewServer binds a ROUTER socket to addr ("tcp://0.0.0.0:6001"; "tcp://127.0.0.1:*" picks a
// free port, see [Server.Addr]) and returns a server that handles requests once [Server.Serve]
// runs.
func NewServer(addr string, handler Handler, opts ServerOptions) (*Server, error) {
	if handler == nil {
		return nil, errors.New("agentrpc: nil handler")
	}
	addr, err := normalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 64
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	router, err := newSocket(zmq.ROUTER)
	if err != nil {
		return nil, err
	}
	setup := []error{
		router.SetLinger(routerLinger),
		router.SetTcpKeepalive(1),
		router.SetTcpKeepaliveIdle(60),
		router.SetTcpKeepaliveIntvl(20),
		router.SetTcpKeepaliveCnt(3),
	}
	if opts.MaxMessageSize > 0 {
		setup = append(setup, router.SetMaxmsgsize(opts.MaxMessageSize))
	}
	if err := errors.Join(setup...); err != nil {
		router.Close()
		return nil, fmt.Errorf("agentrpc: configure ROUTER socket: %w", err)
	}
	if err := router.Bind(addr); err != nil {
		router.Close()
		return nil, fmt.Errorf("agentrpc: bind %s: %w", addr, err)
	}
	bound, err := router.GetLastEndpoint()
	if err != nil {
		router.Close()
		return nil, fmt.Errorf("agentrpc: bound endpoint of %s: %w", addr, err)
	}
	waiter, err := newSocketWaiter(router)
	if err != nil {
		router.Close()
		return nil, err
	}
	return &Server{
		addr:    bound,
		handler: handler,
		opts:    opts,
		logger:  opts.Logger.With("component", "agentrpc-server", "addr", bound),
		waiter:  waiter,
		router:  router,
	}, nil
}

// Addr returns the endpoint the server is bound to, with the actual port when the address
// asked for an ephemeral one ("tcp://127.0.0.1:41234").
func (s *Server) Addr() string { return s.addr }

// Serve handles requests until ctx is cancelled or [Server.Close] is called. Then it stops
// reading requests, cancels the handlers' context, sends the replies of running handlers
// (waiting at most [ServerOptions.ShutdownTimeout]), closes the socket and returns nil. It
// returns [ErrClosed] when the server was closed before, and an error if waiting on the
// socket fails. A server serves once.
func (s *Server) Serve(ctx context.Context) error {
	handlerCtx, cancelHandlers := context.WithCancel(context.Background())
	defer cancelHandlers()
	s.mu.Lock()
	switch s.state {
	case serverClosed:
		s.mu.Unlock()
		return ErrClosed
	case serverServing:
		s.mu.Unlock()
		return errors.New("agentrpc: Serve called twice")
	}
	s.state = serverServing
	s.done = make(chan struct{})
	s.jobs = make(chan job, s.opts.Workers)
	s.idle = make(chan struct{})
	s.cancelHandlers = cancelHandlers
	s.mu.Unlock()
	defer close(s.done)

	quit := make(chan struct{})
	var workers sync.WaitGroup
	for range s.opts.Workers {
		workers.Go(func() { s.worker(handlerCtx, quit) })
	}
	watchDone := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		select {
		case <-ctx.Done():
			s.stop()
		case <-watchDone:
		}
	})
	s.logger.Debug("serving", "workers", s.opts.Workers)

	// Receive until stopped: sleep in the netpoller, pull requests when the socket signals.
	var serveErr error
	err := s.waiter.run(func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping {
			return true
		}
		s.pullLocked()
		return false
	})
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if err != nil && !stopping {
		serveErr = fmt.Errorf("agentrpc: wait on ROUTER socket: %w", err)
		s.logger.Error("serve", "err", serveErr)
	}
	s.stop()
	close(watchDone)
	watcher.Wait()

	// Let running handlers finish, then keep the connections open for replyGrace after the
	// last reply.
	drained := true
	timer := time.NewTimer(s.opts.ShutdownTimeout)
	select {
	case <-s.idle:
	case <-timer.C:
		drained = false
		s.mu.Lock()
		s.logger.Warn("shutdown timeout: dropping the replies of running handlers", "running", s.inflight)
		s.mu.Unlock()
	}
	timer.Stop()
	s.mu.Lock()
	grace := replyGrace - time.Since(s.lastSend)
	s.mu.Unlock()
	if grace > 0 {
		<-time.After(grace)
	}

	s.mu.Lock()
	s.sockClosed = true
	if err := s.router.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("agentrpc: close ROUTER socket: %w", err)
	}
	s.state = serverClosed
	s.mu.Unlock()
	s.waiter.close()
	close(quit)
	if drained {
		workers.Wait()
	}
	s.logger.Debug("stopped")
	return serveErr
}

// stop begins the shutdown of a serving server: no more requests are read and the handlers'
// context is cancelled.
func (s *Server) stop() {
	s.mu.Lock()
	if s.stopping || s.state != serverServing {
		s.mu.Unlock()
		return
	}
	s.stopping = true
	if s.inflight == 0 {
		close(s.idle)
	}
	cancel := s.cancelHandlers
	s.mu.Unlock()
	cancel()
	s.waiter.interrupt()
}

// Close stops the server as cancelling Serve's context does and waits until Serve has
// returned. A server that never served just releases its socket. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	switch s.state {
	case serverIdle:
		s.state = serverClosed
		s.sockClosed = true
		err := s.router.Close()
		s.mu.Unlock()
		s.waiter.close()
		if err != nil {
			return fmt.Errorf("agentrpc: close ROUTER socket: %w", err)
		}
		return nil
	case serverServing:
		done := s.done
		s.mu.Unlock()
		s.stop()
		<-done
		return nil
	default:
		done := s.done
		s.mu.Unlock()
		if done != nil {
			<-done
		}
		return nil
	}
}

// job is one decoded request waiting for a worker.
type job struct {
	envelope [][]byte // ROUTER routing frames
	idFrame  []byte
	id       uint64
	method   string
	route    route
	body     []byte
}

// pullLocked receives requests and hands them to the workers while a worker is free, until
// the socket has nothing more (EAGAIN, which is authoritative for a non-blocking receive).
// When all workers are busy it leaves the requests in ZeroMQ's queue; the next worker to
// finish pulls again. mu must be held.
func (s *Server) pullLocked() {
	for !s.stopping && s.inflight < s.opts.Workers {
		frames, err := s.router.RecvMessageBytes(zmq.DONTWAIT)
		if err != nil {
			if !isAgain(err) {
				s.logger.Warn("receive", "err", err)
			}
			return
		}
		j, ok := s.parseLocked(frames)
		if !ok {
			continue
		}
		s.inflight++
		s.jobs <- j // never blocks: len(jobs) <= inflight <= Workers = cap(jobs)
	}
}

// parseLocked splits a request into envelope, id, method and body. Malformed requests
// without a usable id are logged and dropped; requests for unknown methods are answered
// right away. mu must be held.
func (s *Server) parseLocked(frames [][]byte) (job, bool) {
	n := len(frames)
	if n < 4 {
		s.logger.Warn("dropping malformed request", "frames", n)
		return job{}, false
	}
	j := job{
		envelope: frames[:n-3],
		idFrame:  frames[n-3],
		method:   string(frames[n-2]),
		body:     frames[n-1],
	}
	id, ok := decodeID(j.idFrame)
	if !ok {
		s.logger.Warn("dropping request with a malformed id", "id_bytes", len(j.idFrame), "method", j.method)
		return job{}, false
	}
	j.id = id
	j.route = routes[j.method]
	if j.route == nil {
		s.sendLocked(replyFrames(j, nil, Errorf(KindUnknownMethod, "unknown method %q", j.method)))
		return job{}, false
	}
	return j, true
}

// sendLocked writes a reply on the ROUTER socket. A ROUTER never blocks: a reply to a peer
// that went away is dropped by ZeroMQ. mu must be held.
func (s *Server) sendLocked(frames [][]byte) {
	if s.sockClosed {
		return
	}
	if _, err := s.router.SendMessageDontwait(frames); err != nil {
		s.logger.Debug("reply not sent", "err", err)
	}
	s.lastSend = time.Now()
}

func (s *Server) worker(ctx context.Context, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case j := <-s.jobs:
			frames := s.handle(ctx, j)
			s.mu.Lock()
			s.sendLocked(frames)
			s.inflight--
			if !s.stopping {
				s.pullLocked()
			} else if s.inflight == 0 {
				close(s.idle)
			}
			s.mu.Unlock()
		}
	}
}

// handle runs one request and returns the reply frames.
func (s *Server) handle(ctx context.Context, j job) [][]byte {
	if ctx.Err() != nil {
		return replyFrames(j, nil, Errorf(KindFailure, "agent is shutting down"))
	}
	start := time.Now()
	result, err := s.invoke(context.WithValue(ctx, requestIDKey{}, j.id), j)
	if err != nil && ctx.Err() != nil && !errors.As(err, new(*RemoteError)) {
		err = Errorf(KindFailure, "agent is shutting down: %v", err)
	}
	if err != nil {
		s.logger.Debug("request failed", "method", j.method, "id", j.id, "err", err, "took", time.Since(start))
	}
	if s.opts.Observe != nil {
		s.opts.Observe(j.method, time.Since(start), err)
	}
	return replyFrames(j, result, err)
}

func (s *Server) invoke(ctx context.Context, j job) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("handler panicked", "method", j.method, "id", j.id, "panic", r, "stack", string(debug.Stack()))
			result, err = nil, Errorf(KindFailure, "%s handler panicked: %v", j.method, r)
		}
	}()
	return j.route(ctx, s.handler, j.body)
}

// replyFrames builds [envelope..., id, status, body] for a result or an error.
func replyFrames(j job, result any, err error) [][]byte {
	status := statusOK
	var body []byte
	if err == nil {
		body, err = msgpack.Marshal(result)
		if err != nil {
			err = Errorf(KindFailure, "unencodable %s reply: %v", j.method, err)
		}
	}
	if err != nil {
		status = statusError
		re := toRemoteError(err)
		var encErr error
		if body, encErr = msgpack.Marshal(re); encErr != nil {
			// Details that msgpack cannot encode: send the kind and message alone.
			body, _ = msgpack.Marshal(&RemoteError{Kind: re.Kind, Message: re.Message})
		}
	}
	frames := make([][]byte, 0, len(j.envelope)+3)
	frames = append(frames, j.envelope...)
	return append(frames, j.idFrame, []byte(status), body)
}
