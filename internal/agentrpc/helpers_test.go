package agentrpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeHandler answers every method with a reply derived from the request and records the
// last request of each method. hook, when set, runs first; its error is returned as is.
type fakeHandler struct {
	agentID string
	hook    func(ctx context.Context, method string, req any) error

	mu   sync.Mutex
	seen map[string]any
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{agentID: "i-fake", seen: make(map[string]any)}
}

func (f *fakeHandler) enter(ctx context.Context, method string, req any) error {
	f.mu.Lock()
	f.seen[method] = req
	f.mu.Unlock()
	if f.hook != nil {
		return f.hook(ctx, method, req)
	}
	return nil
}

func (f *fakeHandler) last(method string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[method]
}

func created(k KernelConfig) KernelCreated {
	return KernelCreated{
		KernelID:    k.KernelID,
		ContainerID: "ctr-" + k.KernelID,
		KernelHost:  "10.0.0.5",
		ReplInPort:  2000,
		ReplOutPort: 2001,
		ServicePorts: []ServicePort{
			{Name: "jupyter", Protocol: "http", ContainerPorts: []int{8080}, HostPorts: []int{30001}},
			{Name: "sshd", Protocol: "tcp", ContainerPorts: []int{2200}, HostPorts: []int{30002}},
		},
		AttachedDevices: map[string][]AttachedDevice{
			"cuda": {{DeviceID: "0", ModelName: "NVIDIA A100", Data: map[string]any{"smp": int64(108)}}},
		},
		Allocations: map[string]map[string]map[string]string{
			"cpu": {"cpu": {"root": k.ResourceSlots["cpu"]}},
		},
		AgentAddr:    "tcp://10.0.0.5:6001",
		ScalingGroup: "default",
	}
}

func (f *fakeHandler) CreateKernels(ctx context.Context, req *CreateKernelsRequest) (*CreateKernelsReply, error) {
	if err := f.enter(ctx, MethodCreateKernels, req); err != nil {
		return nil, err
	}
	rep := &CreateKernelsReply{}
	for _, k := range req.Kernels {
		rep.Kernels = append(rep.Kernels, created(k))
	}
	return rep, nil
}

func (f *fakeHandler) DestroyKernel(ctx context.Context, req *DestroyKernelRequest) error {
	return f.enter(ctx, MethodDestroyKernel, req)
}

func (f *fakeHandler) RestartKernel(ctx context.Context, req *RestartKernelRequest) (*KernelCreated, error) {
	if err := f.enter(ctx, MethodRestartKernel, req); err != nil {
		return nil, err
	}
	k := created(KernelConfig{KernelID: req.KernelID})
	return &k, nil
}

func execResult(req *ExecuteRequest) *ExecuteResult {
	exit := 0
	return &ExecuteResult{
		RunID:    req.RunID,
		Status:   ExecStatusFinished,
		Console:  [][2]string{{"stdout", "ran " + req.Code + "\n"}, {"stderr", "warning\n"}},
		ExitCode: &exit,
		Files:    []map[string]any{{"name": "out.png", "size": int64(12)}},
		Options:  map[string]any{"echo": req.Options["flag"]},
	}
}

func (f *fakeHandler) Execute(ctx context.Context, req *ExecuteRequest) (*ExecuteResult, error) {
	if err := f.enter(ctx, MethodExecute, req); err != nil {
		return nil, err
	}
	return execResult(req), nil
}

func (f *fakeHandler) InterruptKernel(ctx context.Context, req *InterruptKernelRequest) error {
	return f.enter(ctx, MethodInterruptKernel, req)
}

func (f *fakeHandler) GetLogs(ctx context.Context, req *GetLogsRequest) (*GetLogsReply, error) {
	if err := f.enter(ctx, MethodGetLogs, req); err != nil {
		return nil, err
	}
	return &GetLogsReply{Logs: "log of " + req.KernelID}, nil
}

func (f *fakeHandler) UploadFile(ctx context.Context, req *UploadFileRequest) error {
	return f.enter(ctx, MethodUploadFile, req)
}

func listing(req *ListFilesRequest) *ListFilesReply {
	return &ListFilesReply{
		Files: []FileInfo{
			{Name: "a.txt", Size: 3, Mode: 0o644, Mtime: time.Unix(1_700_000_000, 5), IsDir: false},
			{Name: "sub", Size: 4096, Mode: 0o755 | 1<<31, Mtime: time.Unix(1_700_000_100, 0), Atime: time.Unix(1_700_000_200, 0), IsDir: true},
		},
		Errors:  []string{"broken: permission denied"},
		AbsPath: "/home/work/" + req.Path,
	}
}

func (f *fakeHandler) ListFiles(ctx context.Context, req *ListFilesRequest) (*ListFilesReply, error) {
	if err := f.enter(ctx, MethodListFiles, req); err != nil {
		return nil, err
	}
	return listing(req), nil
}

func walked(req *WalkFilesRequest) *WalkFilesReply {
	return &WalkFilesReply{
		Entries: []WalkEntry{
			{Name: "sub", Path: req.Path, Mode: 0o755 | fs.ModeDir, Mtime: time.Unix(1_700_000_000, 0)},
			{Name: "sub/a.txt", Path: req.Path + "/a.txt", Mode: 0o644, Size: 3, Mtime: time.Unix(1_700_000_001, 0)},
			{Name: "sub/l", Path: req.Path + "/l", Mode: 0o777 | fs.ModeSymlink, Mtime: time.Unix(1_700_000_002, 0), Linkname: "a.txt"},
		},
		TotalSize: 3,
	}
}

func (f *fakeHandler) WalkFiles(ctx context.Context, req *WalkFilesRequest) (*WalkFilesReply, error) {
	if err := f.enter(ctx, MethodWalkFiles, req); err != nil {
		return nil, err
	}
	return walked(req), nil
}

// ReadFile answers as many bytes as asked for, or more when the path says "greedy".
func (f *fakeHandler) ReadFile(ctx context.Context, req *ReadFileRequest) (*ReadFileReply, error) {
	if err := f.enter(ctx, MethodReadFile, req); err != nil {
		return nil, err
	}
	n := req.Length
	if req.Path == "greedy" {
		n = 2 * MaxChunk
	}
	return &ReadFileReply{Data: bytes.Repeat([]byte{byte(req.Offset)}, n)}, nil
}

func (f *fakeHandler) Ping(ctx context.Context, req *PingRequest) (*PingReply, error) {
	if err := f.enter(ctx, MethodPing, req); err != nil {
		return nil, err
	}
	return &PingReply{Payload: req.Payload, AgentID: f.agentID}, nil
}

func (f *fakeHandler) SyncKernels(ctx context.Context, req *SyncKernelsRequest) (*SyncKernelsReply, error) {
	if err := f.enter(ctx, MethodSyncKernels, req); err != nil {
		return nil, err
	}
	rep := &SyncKernelsReply{Unknown: []string{"k-stray"}}
	for i, k := range req.Kernels {
		if i%2 == 0 {
			rep.Alive = append(rep.Alive, k.KernelID)
		} else {
			rep.Missing = append(rep.Missing, k.KernelID)
		}
	}
	return rep, nil
}

// startServer serves h on an ephemeral port until the test ends and checks that Serve
// returns nil.
func startServer(t testing.TB, h Handler, opts ServerOptions) *Server {
	t.Helper()
	return startServerAt(t, "tcp://127.0.0.1:*", h, opts)
}

func startServerAt(t testing.TB, addr string, h Handler, opts ServerOptions) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := NewServer(addr, h, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-errc)
		require.NoError(t, s.Close())
	})
	return s
}

func dial(t testing.TB, addr string, opts ClientOptions) *Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	c, err := Dial(addr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// freeAddr returns a TCP endpoint on 127.0.0.1 that nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "tcp://" + addr
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("timed out waiting for %s", what))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// gate blocks handlers until released or their context ends, and counts entries.
type gate struct {
	entered chan string
	release chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan string, 1024), release: make(chan struct{})}
}

func (g *gate) wait(ctx context.Context, method string) error {
	g.entered <- method
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) awaitEntered(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-g.entered:
		case <-timeout:
			require.FailNow(t, "handlers were not entered")
		}
	}
}
