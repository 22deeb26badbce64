package agentrpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	s := startServer(t, h, ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{})
	ctx := context.Background()

	t.Run("create_kernels", func(t *testing.T) {
		req := &CreateKernelsRequest{
			SessionID: "s-1",
			Kernels: []KernelConfig{{
				KernelID:        "k-1",
				SessionID:       "s-1",
				SessionType:     SessionTypeInteractive,
				ClusterRole:     "main",
				ClusterIdx:      1,
				ClusterHostname: "main1",
				Image: ImageRef{
					Canonical:    "cr.backend.ai/stable/python:3.9-ubuntu20.04",
					Architecture: "x86_64",
					Digest:       "sha256:abc",
					Registry:     ImageRegistry{Name: "cr.backend.ai", URL: "https://cr.backend.ai", Username: "u", Password: "p"},
					Labels:       map[string]string{"ai.backend.runtime-type": "python"},
					RuntimeType:  "python",
					RuntimePath:  "/usr/bin/python3",
				},
				AutoPull:        "digest",
				ResourceSlots:   map[string]string{"cpu": "1", "mem": "1073741824"},
				ResourceOpts:    map[string]any{"shmem": "64m", "n": int64(3)},
				Environ:         map[string]string{"BACKENDAI_KERNEL_ID": "k-1"},
				Mounts:          []Mount{{Name: "data", VFID: "q/uuid", VFSubpath: ".", HostPath: "/vfroot/q/uuid", KernelPath: "/home/work/data", MountPerm: "rw"}},
				StartupCommand:  "python main.py",
				BootstrapScript: "pip install x",
				PreopenPorts:    []int{8000},
				IdleTimeout:     600,
				ScratchDir:      "/tmp/scratch/k-1",
			}, {
				KernelID: "k-2", SessionID: "s-1", ClusterRole: "sub", ClusterIdx: 1, LocalRank: 1,
				ResourceSlots: map[string]string{"cpu": "2"},
			}},
			Cluster: ClusterInfo{
				Mode: "single-node", Size: 2, Replicas: map[string]int{"main": 1, "sub": 1},
				SSHKeypair:     &SSHKeypair{PublicKey: "ssh-ed25519 AAA", PrivateKey: "-----BEGIN"},
				SSHPortMapping: map[string]HostPort{"main1": {Host: "10.0.0.5", Port: 30022}},
			},
		}
		rep, err := c.CreateKernels(ctx, req)
		require.NoError(t, err)
		require.Equal(t, req, h.last(MethodCreateKernels))
		require.Equal(t, &CreateKernelsReply{Kernels: []KernelCreated{created(req.Kernels[0]), created(req.Kernels[1])}}, rep)
	})

	t.Run("destroy_kernel", func(t *testing.T) {
		req := &DestroyKernelRequest{KernelID: "k-1", SessionID: "s-1", Reason: "user-requested", SuppressEvents: true}
		require.NoError(t, c.DestroyKernel(ctx, req))
		require.Equal(t, req, h.last(MethodDestroyKernel))
	})

	t.Run("restart_kernel", func(t *testing.T) {
		req := &RestartKernelRequest{SessionID: "s-1", KernelID: "k-1", UpdatedConfig: &KernelConfig{KernelID: "k-1", Environ: map[string]string{"A": "b"}}}
		rep, err := c.RestartKernel(ctx, req)
		require.NoError(t, err)
		require.Equal(t, req, h.last(MethodRestartKernel))
		want := created(KernelConfig{KernelID: "k-1"})
		require.Equal(t, &want, rep)
	})

	t.Run("execute", func(t *testing.T) {
		req := &ExecuteRequest{
			SessionID: "s-1", KernelID: "k-1", RunID: "r-1", Mode: ExecModeQuery, Code: "print(1)",
			Options: map[string]any{"flag": true}, FlushTimeout: 2 * time.Second,
		}
		rep, err := c.Execute(ctx, req)
		require.NoError(t, err)
		require.Equal(t, req, h.last(MethodExecute))
		require.Equal(t, execResult(req), rep)
		require.Equal(t, 0, *rep.ExitCode)
	})

	t.Run("execute without exit code", func(t *testing.T) {
		h2 := &continuedHandler{}
		s2 := startServer(t, h2, ServerOptions{})
		c2 := dial(t, s2.Addr(), ClientOptions{})
		rep, err := c2.Execute(ctx, &ExecuteRequest{KernelID: "k", RunID: "r", Mode: ExecModeContinue})
		require.NoError(t, err)
		require.Equal(t, ExecStatusContinued, rep.Status)
		require.Nil(t, rep.ExitCode)
	})

	t.Run("interrupt_kernel", func(t *testing.T) {
		req := &InterruptKernelRequest{KernelID: "k-1"}
		require.NoError(t, c.InterruptKernel(ctx, req))
		require.Equal(t, req, h.last(MethodInterruptKernel))
	})

	t.Run("get_logs", func(t *testing.T) {
		rep, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: "k-1"})
		require.NoError(t, err)
		require.Equal(t, &GetLogsReply{Logs: "log of k-1"}, rep)
	})

	t.Run("upload_file", func(t *testing.T) {
		data := make([]byte, 3<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		req := &UploadFileRequest{KernelID: "k-1", Path: "big.bin", Data: data}
		require.NoError(t, c.UploadFile(ctx, req))
		require.Equal(t, req, h.last(MethodUploadFile))
	})

	t.Run("list_files", func(t *testing.T) {
		req := &ListFilesRequest{KernelID: "k-1", Path: "sub"}
		rep, err := c.ListFiles(ctx, req)
		require.NoError(t, err)
		want := listing(req)
		require.Len(t, rep.Files, len(want.Files))
		for i := range want.Files {
			w, g := want.Files[i], rep.Files[i]
			require.True(t, w.Mtime.Equal(g.Mtime), "mtime %s vs %s", w.Mtime, g.Mtime)
			require.True(t, w.Atime.Equal(g.Atime), "atime %s vs %s", w.Atime, g.Atime)
			require.True(t, g.Ctime.IsZero())
			w.Mtime, w.Atime, g.Mtime, g.Atime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			require.Equal(t, w, g)
		}
		require.Equal(t, "drwxr-xr-x", rep.Files[1].Mode.String())
		require.Equal(t, want.Errors, rep.Errors)
		require.Equal(t, want.AbsPath, rep.AbsPath)
	})

	t.Run("walk_files", func(t *testing.T) {
		req := &WalkFilesRequest{KernelID: "k-1", Path: "sub", Recursive: true, MaxBytes: 1 << 30, MaxEntries: 10}
		rep, err := c.WalkFiles(ctx, req)
		require.NoError(t, err)
		require.Equal(t, req, h.last(MethodWalkFiles))
		want := walked(req)
		require.Len(t, rep.Entries, len(want.Entries))
		for i := range want.Entries {
			w, g := want.Entries[i], rep.Entries[i]
			require.True(t, w.Mtime.Equal(g.Mtime))
			w.Mtime, g.Mtime = time.Time{}, time.Time{}
			require.Equal(t, w, g)
		}
		require.Equal(t, want.TotalSize, rep.TotalSize)
	})

	t.Run("read_file", func(t *testing.T) {
		rep, err := c.ReadFile(ctx, &ReadFileRequest{KernelID: "k-1", Path: "a.bin", Offset: 7, Length: 5})
		require.NoError(t, err)
		require.Equal(t, &ReadFileReply{Data: []byte{7, 7, 7, 7, 7}}, rep)
	})

	t.Run("ping", func(t *testing.T) {
		rep, err := c.Ping(ctx, &PingRequest{Payload: "hello"})
		require.NoError(t, err)
		require.Equal(t, &PingReply{Payload: "hello", AgentID: "i-fake", Version: Version}, rep)
		require.Equal(t, &PingRequest{Payload: "hello", Version: Version}, h.last(MethodPing))
	})

	t.Run("sync_kernel_registry", func(t *testing.T) {
		req := &SyncKernelsRequest{Kernels: []KernelRef{{"k-1", "s-1"}, {"k-2", "s-1"}, {"k-3", "s-2"}}}
		rep, err := c.SyncKernels(ctx, req)
		require.NoError(t, err)
		require.Equal(t, req, h.last(MethodSyncKernels))
		require.Equal(t, &SyncKernelsReply{Alive: []string{"k-1", "k-3"}, Missing: []string{"k-2"}, Unknown: []string{"k-stray"}}, rep)
	})
}

// continuedHandler answers execute with a run that is still going.
type continuedHandler struct{ UnimplementedHandler }

func (continuedHandler) Execute(_ context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	return &ExecuteResult{RunID: req.RunID, Status: ExecStatusContinued, Console: [][2]string{}}, nil
}

func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error {
		if method != MethodGetLogs {
			return nil
		}
		switch req.(*GetLogsRequest).KernelID {
		case "missing":
			return &RemoteError{Kind: KindNotFound, Message: "no such kernel", Details: map[string]any{"kernel_id": "missing", "n": 7}}
		case "wrapped":
			return fmt.Errorf("lookup: %w", Errorf(KindInvalidInput, "bad kernel id %q", "wrapped"))
		case "field":
			return fmt.Errorf("upload: %w", FieldErrorf(KindTooLarge, "path", "%s is too large", "big.bin"))
		case "plain":
			return errors.New("disk on fire")
		case "slow":
			return fmt.Errorf("pull image: %w", context.DeadlineExceeded)
		case "panic":
			panic("boom")
		}
		return nil
	}
	s := startServer(t, h, ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{})
	ctx := context.Background()

	remote := func(t *testing.T, err error) *RemoteError {
		t.Helper()
		require.Error(t, err)
		var ce *CallError
		require.ErrorAs(t, err, &ce)
		require.NotEmpty(t, ce.Addr)
		var re *RemoteError
		require.ErrorAs(t, err, &re)
		return re
	}

	_, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: "missing"})
	re := remote(t, err)
	require.Equal(t, KindNotFound, re.Kind)
	require.Equal(t, "no such kernel", re.Message)
	require.Equal(t, map[string]any{"kernel_id": "missing", "n": int64(7)}, re.Details)
	require.Contains(t, err.Error(), "agent at "+s.Addr()+": get_logs: agent error (not-found): no such kernel")
	require.NotErrorIs(t, err, ErrTimeout)

	_, err = c.GetLogs(ctx, &GetLogsRequest{KernelID: "wrapped"})
	re = remote(t, err)
	require.Equal(t, KindInvalidInput, re.Kind)
	require.Equal(t, `bad kernel id "wrapped"`, re.Message)

	// The argument at fault travels as a field of its own.
	_, err = c.GetLogs(ctx, &GetLogsRequest{KernelID: "field"})
	re = remote(t, err)
	require.Equal(t, KindTooLarge, re.Kind)
	require.Equal(t, "path", re.Field)
	require.Equal(t, "big.bin is too large", re.Message)

	_, err = c.GetLogs(ctx, &GetLogsRequest{KernelID: "plain"})
	re = remote(t, err)
	require.Equal(t, KindFailure, re.Kind)
	require.Equal(t, "disk on fire", re.Message)

	_, err = c.GetLogs(ctx, &GetLogsRequest{KernelID: "slow"})
	re = remote(t, err)
	require.Equal(t, KindTimeout, re.Kind)
	require.ErrorIs(t, err, ErrTimeout)

	_, err = c.GetLogs(ctx, &GetLogsRequest{KernelID: "panic"})
	re = remote(t, err)
	require.Equal(t, KindFailure, re.Kind)
	require.Contains(t, re.Message, "get_logs handler panicked: boom")

	// Unknown method, undecodable body, unimplemented method.
	err = c.call(ctx, "no_such_method", struct{}{}, nil)
	re = remote(t, err)
	require.Equal(t, KindUnknownMethod, re.Kind)
	require.Contains(t, re.Message, "no_such_method")

	err = c.call(ctx, MethodCreateKernels, "not a struct", nil)
	re = remote(t, err)
	require.Equal(t, KindInvalidInput, re.Kind)
	require.Contains(t, re.Message, "undecodable create_kernels request")

	u := startServer(t, UnimplementedHandler{}, ServerOptions{})
	uc := dial(t, u.Addr(), ClientOptions{})
	err = uc.DestroyKernel(ctx, &DestroyKernelRequest{KernelID: "k"})
	re = remote(t, err)
	require.Equal(t, KindUnknownMethod, re.Kind)
	rep, err := uc.Ping(ctx, &PingRequest{Payload: "x"})
	require.NoError(t, err)
	require.Equal(t, &PingReply{Payload: "x", Version: Version}, rep)

	// The client still works after all those errors.
	logs, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: "k-9"})
	require.NoError(t, err)
	require.Equal(t, "log of k-9", logs.Logs)
}

// TestReadFileChunkBound checks that no read_file exchange carries more than MaxChunk bytes:
// a longer (or unset) Length reaches the handler clamped to MaxChunk, and a handler that
// answers more than it was asked for is refused with a failure instead of sent.
func TestReadFileChunkBound(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	s := startServer(t, h, ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{})
	ctx := context.Background()

	for _, n := range []int{0, -1, MaxChunk + 1, 1 << 40} {
		rep, err := c.ReadFile(ctx, &ReadFileRequest{KernelID: "k", Path: "a.bin", Length: n})
		require.NoError(t, err)
		require.Len(t, rep.Data, MaxChunk, "length %d", n)
		require.Equal(t, MaxChunk, h.last(MethodReadFile).(*ReadFileRequest).Length)
	}
	rep, err := c.ReadFile(ctx, &ReadFileRequest{KernelID: "k", Path: "a.bin", Length: 10})
	require.NoError(t, err)
	require.Len(t, rep.Data, 10)

	_, err = c.ReadFile(ctx, &ReadFileRequest{KernelID: "k", Path: "greedy", Length: 10})
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, KindFailure, re.Kind)
	require.Contains(t, re.Message, "exceeds the requested 10")

	_, err = c.ReadFile(ctx, &ReadFileRequest{KernelID: "k", Path: "a.bin", Offset: -1})
	require.ErrorAs(t, err, &re)
	require.Equal(t, KindInvalidInput, re.Kind)
	require.Equal(t, "offset", re.Field)
}

func TestPingVersionMismatch(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFakeHandler(), ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{})

	// A client of another version is rejected by the server.
	var rep PingReply
	err := c.call(context.Background(), MethodPing, &PingRequest{Payload: "x", Version: Version + 1}, &rep)
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, KindInvalidInput, re.Kind)
	require.Contains(t, re.Message, fmt.Sprintf("protocol version %d is not supported", Version+1))

	// A server of another version is rejected by the client.
	router, addr := rawRouter(t)
	errc := make(chan error, 1)
	go func() {
		c2, err := Dial(addr, ClientOptions{Logger: quietLogger()})
		if err != nil {
			errc <- err
			return
		}
		defer c2.Close()
		_, err = c2.Ping(context.Background(), &PingRequest{Payload: "x"})
		errc <- err
	}()
	frames, err := router.RecvMessageBytes(0)
	require.NoError(t, err)
	require.Len(t, frames, 4)
	require.Equal(t, MethodPing, string(frames[2]))
	body, err := msgpack.Marshal(&PingReply{Payload: "x", Version: Version + 1})
	require.NoError(t, err)
	_, err = router.SendMessage(frames[0], frames[1], statusOK, body)
	require.NoError(t, err)
	err = <-errc
	require.ErrorIs(t, err, ErrVersionMismatch)
	require.Contains(t, err.Error(), fmt.Sprintf("the agent speaks version %d", Version+1))
}

// rawRouter binds a bare ROUTER socket for tests that play the agent by hand. It must be
// used from the test goroutine only.
func rawRouter(t *testing.T) (*zmq.Socket, string) {
	t.Helper()
	router, err := zmq.NewSocket(zmq.ROUTER)
	require.NoError(t, err)
	require.NoError(t, router.SetLinger(0))
	require.NoError(t, router.SetRcvtimeo(10*time.Second))
	require.NoError(t, router.Bind("tcp://127.0.0.1:*"))
	addr, err := router.GetLastEndpoint()
	require.NoError(t, err)
	t.Cleanup(func() { router.Close() })
	return router, addr
}

func TestClientDropsMalformedReplies(t *testing.T) {
	t.Parallel()
	router, addr := rawRouter(t)
	c := dial(t, addr, ClientOptions{})

	type result struct {
		rep *GetLogsReply
		err error
	}
	results := make(chan result, 2)
	call := func(kernel string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: kernel})
		results <- result{rep, err}
	}
	go call("a")
	frames, err := router.RecvMessageBytes(0)
	require.NoError(t, err)
	peer, id := frames[0], frames[1]

	// Garbage the client must ignore: too few frames, a short id, an unknown id.
	_, err = router.SendMessage(peer, "junk")
	require.NoError(t, err)
	_, err = router.SendMessage(peer, []byte{1, 2}, statusOK, []byte{0xc0})
	require.NoError(t, err)
	_, err = router.SendMessage(peer, encodeID(999_999), statusOK, []byte{0xc0})
	require.NoError(t, err)
	// A reply with an unknown status fails the call.
	_, err = router.SendMessage(peer, id, "maybe", []byte{0xc0})
	require.NoError(t, err)
	r := <-results
	require.ErrorContains(t, r.err, `reply with unknown status "maybe"`)

	// An undecodable ok reply fails the call; the next call still works.
	go call("b")
	frames, err = router.RecvMessageBytes(0)
	require.NoError(t, err)
	_, err = router.SendMessage(frames[0], frames[1], statusOK, []byte{0xc1})
	require.NoError(t, err)
	r = <-results
	require.ErrorContains(t, r.err, "undecodable reply")

	go call("c")
	frames, err = router.RecvMessageBytes(0)
	require.NoError(t, err)
	body, err := msgpack.Marshal(&GetLogsReply{Logs: "ok"})
	require.NoError(t, err)
	_, err = router.SendMessage(frames[0], frames[1], statusOK, body)
	require.NoError(t, err)
	r = <-results
	require.NoError(t, r.err)
	require.Equal(t, "ok", r.rep.Logs)
}

func TestServerDropsMalformedRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFakeHandler(), ServerOptions{})
	dealer, err := zmq.NewSocket(zmq.DEALER)
	require.NoError(t, err)
	defer dealer.Close()
	require.NoError(t, dealer.SetLinger(0))
	require.NoError(t, dealer.SetRcvtimeo(10*time.Second))
	require.NoError(t, dealer.Connect(s.Addr()))

	body, err := msgpack.Marshal(&PingRequest{Payload: "p", Version: Version})
	require.NoError(t, err)
	_, err = dealer.SendMessage("only", "two")
	require.NoError(t, err)
	_, err = dealer.SendMessage([]byte{1, 2, 3}, MethodPing, body)
	require.NoError(t, err)
	_, err = dealer.SendMessage(encodeID(42), MethodPing, body)
	require.NoError(t, err)

	frames, err := dealer.RecvMessageBytes(0)
	require.NoError(t, err)
	require.Len(t, frames, 3)
	id, ok := decodeID(frames[0])
	require.True(t, ok)
	require.Equal(t, uint64(42), id)
	require.Equal(t, statusOK, string(frames[1]))
	var rep PingReply
	require.NoError(t, unmarshal(frames[2], &rep))
	require.Equal(t, "p", rep.Payload)
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	var mu sync.Mutex
	ids := make(map[uint64]int)
	h.hook = func(ctx context.Context, method string, req any) error {
		id, ok := RequestID(ctx)
		if !ok {
			return errors.New("no request id")
		}
		mu.Lock()
		ids[id]++
		mu.Unlock()
		return nil
	}
	s := startServer(t, h, ServerOptions{Workers: 16})
	c := dial(t, s.Addr(), ClientOptions{})

	const goroutines, perGoroutine = 300, 5
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				want := fmt.Sprintf("g%d-%d", g, i)
				if i%2 == 0 {
					rep, err := c.Ping(ctx, &PingRequest{Payload: want})
					if err == nil && rep.Payload != want {
						err = fmt.Errorf("ping %s answered %s", want, rep.Payload)
					}
					errs <- err
				} else {
					rep, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: want})
					if err == nil && rep.Logs != "log of "+want {
						err = fmt.Errorf("logs of %s answered %s", want, rep.Logs)
					}
					errs <- err
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, ids, goroutines*perGoroutine)
	for id, n := range ids {
		require.Equal(t, 1, n, "request id %d seen %d times", id, n)
	}
	require.Equal(t, 0, c.InFlight())
}

func TestTimeoutWhenHandlerBlocks(t *testing.T) {
	t.Parallel()
	g := newGate()
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error {
		if method == MethodExecute {
			return g.wait(ctx, method)
		}
		return nil
	}
	s := startServer(t, h, ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{})
	defer g.open()

	const timeout = 150 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	_, err := c.Execute(ctx, &ExecuteRequest{KernelID: "k", RunID: "r", Mode: ExecModeQuery, Code: "sleep"})
	took := time.Since(start)
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.Equal(t, s.Addr(), te.Addr)
	require.Equal(t, MethodExecute, te.Method)
	require.True(t, te.Sent)
	require.Contains(t, err.Error(), "agent at "+s.Addr()+" did not answer execute within 1")
	require.GreaterOrEqual(t, took, timeout)
	require.Less(t, took, timeout+2*time.Second)
	g.awaitEntered(t, 1)

	// The abandoned call leaves the pending map; its late reply is dropped.
	waitFor(t, 5*time.Second, "the abandoned call to be forgotten", func() bool { return c.InFlight() == 0 })
	g.open()

	// The client is still usable.
	rep, err := c.Execute(context.Background(), &ExecuteRequest{KernelID: "k", RunID: "r2", Code: "x"})
	require.NoError(t, err)
	require.Equal(t, "r2", rep.RunID)
	require.Equal(t, 0, c.InFlight())
}

func TestDefaultTimeout(t *testing.T) {
	t.Parallel()
	g := newGate()
	defer g.open()
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error { return g.wait(ctx, method) }
	s := startServer(t, h, ServerOptions{})
	c := dial(t, s.Addr(), ClientOptions{Timeout: 100 * time.Millisecond})

	start := time.Now()
	err := c.DestroyKernel(context.Background(), &DestroyKernelRequest{KernelID: "k"})
	require.ErrorIs(t, err, ErrTimeout)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	require.Contains(t, err.Error(), "did not answer destroy_kernel within 100ms")

	// A context deadline longer than the default wins.
	g.open()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.DestroyKernel(ctx, &DestroyKernelRequest{KernelID: "k"}))
}

func TestUnreachableAgent(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := dial(t, addr, ClientOptions{Timeout: 200 * time.Millisecond})

	start := time.Now()
	_, err := c.CreateKernels(context.Background(), &CreateKernelsRequest{SessionID: "s"})
	took := time.Since(start)
	require.ErrorIs(t, err, ErrTimeout)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.False(t, te.Sent)
	require.Equal(t, "agent at "+addr+" did not answer create_kernels within 200ms (no connection to the agent: it is down or unreachable)", err.Error())
	require.GreaterOrEqual(t, took, 200*time.Millisecond)
	require.Less(t, took, 2*time.Second)

	// Many callers against the dead agent: all fail by their deadline, nothing stays behind.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Ping(ctx, &PingRequest{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, ErrTimeout)
	}
	waitFor(t, 5*time.Second, "abandoned calls to be forgotten", func() bool { return c.InFlight() == 0 })

	// A bare host:port means TCP.
	c2 := dial(t, strings.TrimPrefix(addr, "tcp://"), ClientOptions{Timeout: 50 * time.Millisecond})
	require.Equal(t, addr, c2.Addr())
	_, err = c2.GetLogs(context.Background(), &GetLogsRequest{})
	require.ErrorIs(t, err, ErrTimeout)
}

func TestAgentStartsAfterDial(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := dial(t, addr, ClientOptions{ReconnectInterval: 10 * time.Millisecond, ReconnectIntervalMax: 50 * time.Millisecond})

	// A call issued while nothing listens waits, unsent, and goes out once the agent is up.
	type result struct {
		rep *PingReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rep, err := c.Ping(ctx, &PingRequest{Payload: "early"})
		done <- result{rep, err}
	}()
	waitFor(t, 5*time.Second, "the call to be queued", func() bool { return c.InFlight() == 1 })
	startServerAt(t, addr, newFakeHandler(), ServerOptions{})
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "early", r.rep.Payload)
}

func TestServerCloseWithCallsInFlight(t *testing.T) {
	t.Parallel()
	g := newGate()
	defer g.open()
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error {
		if method == MethodExecute {
			return g.wait(ctx, method)
		}
		return nil
	}
	s, err := NewServer("tcp://127.0.0.1:*", h, ServerOptions{Logger: quietLogger()})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	c := dial(t, s.Addr(), ClientOptions{})

	const calls = 10
	errs := make(chan error, calls)
	for range calls {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Execute(ctx, &ExecuteRequest{KernelID: "k", Code: "loop"})
			errs <- err
		}()
	}
	g.awaitEntered(t, calls)
	start := time.Now()
	require.NoError(t, s.Close())
	require.NoError(t, <-served)
	for range calls {
		err := <-errs
		var re *RemoteError
		require.ErrorAs(t, err, &re)
		require.Equal(t, KindFailure, re.Kind)
		require.Contains(t, re.Message, "agent is shutting down")
	}
	require.Less(t, time.Since(start), 10*time.Second)

	// Closing again is fine; serving again is not.
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Serve(context.Background()), ErrClosed)

	// Calls to the closed server time out, unsent once the connection is gone.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Ping(ctx, &PingRequest{})
	require.ErrorIs(t, err, ErrTimeout)
}

func TestServerShutdownTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error {
		entered <- struct{}{}
		<-release // ignores ctx on purpose
		return nil
	}
	s, err := NewServer("tcp://127.0.0.1:*", h, ServerOptions{Logger: quietLogger(), ShutdownTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	c := dial(t, s.Addr(), ClientOptions{})
	callDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.GetLogs(ctx, &GetLogsRequest{KernelID: "k"})
		callDone <- err
	}()
	<-entered
	cancel()
	require.NoError(t, <-served)
	require.ErrorIs(t, <-callDone, ErrTimeout)
	close(release) // the stuck handler's goroutine ends; goleak checks it
}

func TestWorkersBoundConcurrency(t *testing.T) {
	t.Parallel()
	g := newGate()
	defer g.open()
	h := newFakeHandler()
	var pings sync.Mutex
	pinged := 0
	h.hook = func(ctx context.Context, method string, req any) error {
		if method == MethodPing {
			pings.Lock()
			pinged++
			pings.Unlock()
			return nil
		}
		return g.wait(ctx, method)
	}
	s := startServer(t, h, ServerOptions{Workers: 2})
	c := dial(t, s.Addr(), ClientOptions{})

	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- c.InterruptKernel(context.Background(), &InterruptKernelRequest{KernelID: "k"}) }()
	}
	g.awaitEntered(t, 2)

	// Both workers are busy: a ping waits in the queue and times out, sent but unanswered.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Ping(ctx, &PingRequest{Payload: "queued"})
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Sent)
	pings.Lock()
	require.Equal(t, 0, pinged)
	pings.Unlock()

	g.open()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	rep, err := c.Ping(context.Background(), &PingRequest{Payload: "after"})
	require.NoError(t, err)
	require.Equal(t, "after", rep.Payload)
}

func TestClientClose(t *testing.T) {
	t.Parallel()
	g := newGate()
	defer g.open()
	h := newFakeHandler()
	h.hook = func(ctx context.Context, method string, req any) error { return g.wait(ctx, method) }
	s := startServer(t, h, ServerOptions{})
	c, err := Dial(s.Addr(), ClientOptions{Logger: quietLogger()})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		_, err := c.GetLogs(context.Background(), &GetLogsRequest{KernelID: "k"})
		done <- err
	}()
	g.awaitEntered(t, 1)
	require.NoError(t, c.Close())
	err = <-done
	require.ErrorIs(t, err, ErrClosed)
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, MethodGetLogs, ce.Method)

	_, err = c.Ping(context.Background(), &PingRequest{})
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, c.Close())
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	s, err := NewServer("tcp://127.0.0.1:*", newFakeHandler(), ServerOptions{Logger: quietLogger()})
	require.NoError(t, err)
	require.Regexp(t, `^tcp://127\.0\.0\.1:\d+$`, s.Addr())
	require.NotEqual(t, "tcp://127.0.0.1:0", s.Addr())

	// The port is taken while the server exists.
	_, err = NewServer(s.Addr(), newFakeHandler(), ServerOptions{Logger: quietLogger()})
	require.ErrorContains(t, err, "bind "+s.Addr())

	// A server closed before serving refuses to serve.
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Serve(context.Background()), ErrClosed)

	_, err = NewServer("tcp://127.0.0.1:*", nil, ServerOptions{})
	require.ErrorContains(t, err, "nil handler")
	_, err = NewServer("bogus://x", newFakeHandler(), ServerOptions{Logger: quietLogger()})
	require.Error(t, err)
	_, err = Dial("", ClientOptions{})
	require.Error(t, err)

	// Serve twice.
	s2 := startServer(t, newFakeHandler(), ServerOptions{})
	c := dial(t, s2.Addr(), ClientOptions{})
	_, err = c.Ping(context.Background(), &PingRequest{})
	require.NoError(t, err)
	require.ErrorContains(t, s2.Serve(context.Background()), "Serve called twice")
}

func TestPool(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFakeHandler(), ServerOptions{})
	p := NewPool(ClientOptions{Logger: quietLogger()})

	c1, err := p.Get(s.Addr())
	require.NoError(t, err)
	c2, err := p.Get(strings.TrimPrefix(s.Addr(), "tcp://"))
	require.NoError(t, err)
	require.Same(t, c1, c2)
	require.Equal(t, 1, p.Len())

	var wg sync.WaitGroup
	got := make(chan *Client, 50)
	for range 50 {
		wg.Go(func() {
			c, err := p.Get(s.Addr())
			if err == nil {
				got <- c
			}
		})
	}
	wg.Wait()
	close(got)
	n := 0
	for c := range got {
		require.Same(t, c1, c)
		n++
	}
	require.Equal(t, 50, n)

	_, err = c1.Ping(context.Background(), &PingRequest{})
	require.NoError(t, err)

	require.NoError(t, p.Forget(s.Addr()))
	require.Equal(t, 0, p.Len())
	_, err = c1.Ping(context.Background(), &PingRequest{})
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, p.Forget(s.Addr()))

	c3, err := p.Get(s.Addr())
	require.NoError(t, err)
	require.NotSame(t, c1, c3)
	_, err = c3.Ping(context.Background(), &PingRequest{})
	require.NoError(t, err)

	// A client closed behind the pool's back is replaced.
	require.NoError(t, c3.Close())
	c4, err := p.Get(s.Addr())
	require.NoError(t, err)
	require.NotSame(t, c3, c4)

	require.NoError(t, p.Close())
	_, err = p.Get(s.Addr())
	require.ErrorIs(t, err, ErrClosed)
	_, err = c4.Ping(context.Background(), &PingRequest{})
	require.ErrorIs(t, err, ErrClosed)
}

// TestSustainedLoad keeps many callers busy on one client for tens of thousands of calls: a
// lost socket wake-up (see the package documentation) shows up here as calls that time out.
func TestSustainedLoad(t *testing.T) {
	t.Parallel()
	s := startServer(t, newFakeHandler(), ServerOptions{Workers: 8})
	c := dial(t, s.Addr(), ClientOptions{Timeout: 5 * time.Second})
	const callers, calls = 64, 400
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			for i := range calls {
				want := fmt.Sprintf("%d/%d", g, i)
				rep, err := c.Ping(context.Background(), &PingRequest{Payload: want})
				if err == nil && rep.Payload != want {
					err = fmt.Errorf("ping %s answered %s", want, rep.Payload)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
