package session_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/auth"
)

// Images the kernel fixtures run: the process runtime gives images whose name mentions
// python a persistent Python 3 interpreter of the host, and others /bin/sh.
const (
	pythonImage = "cr.backend.ai/stable/python:3.9-ubuntu20.04"
	shellImage  = "cr.backend.ai/stable/ubuntu:22.04"
)

// kernelAgent is an in-process agent with the process runtime, registered as an ALIVE agent
// of scaling group "default" in an Env's database.
type kernelAgent struct {
	Agent   *agentd.Agent
	Runtime *agentd.ProcessRuntime
	// Addr is the agent's RPC address, as kernels.agent_addr holds it.
	Addr string
	// Events records the tasks (kernel events, heartbeats) the agent enqueued.
	Events *recordingEnqueuer
}

// runningSession is a RUNNING single-kernel session whose main kernel runs on a kernelAgent.
type runningSession struct {
	ID       string
	Name     string
	KernelID string
	Image    string
	// AccessKey is the owner's access key.
	AccessKey string
	Agent     *kernelAgent
}

// recordingEnqueuer stands in for the manager's queues: it records what the agent enqueues.
type recordingEnqueuer struct {
	mu    sync.Mutex
	tasks []*asynq.Task
}

// Enqueue records t.
func (r *recordingEnqueuer) Enqueue(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	r.mu.Lock()
	r.tasks = append(r.tasks, t)
	r.mu.Unlock()
	return &asynq.TaskInfo{}, nil
}

// Tasks returns the tasks recorded so far.
func (r *recordingEnqueuer) Tasks() []*asynq.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*asynq.Task(nil), r.tasks...)
}

// newKernelEnv starts an API (newEnv) and an agent, and gives a RUNNING Python session of
// functionstest.User.
func newKernelEnv(t *testing.T) (*functionstest.Env, *runningSession) {
	t.Helper()
	env := newEnv(t)
	ka := startKernelAgent(t, env)
	return env, ka.startSession(t, env, "py-"+uuid.NewString()[:8], pythonImage, &functionstest.User)
}

// newShellKernelEnv is newKernelEnv with a shell image: each query runs with /bin/sh -c.
func newShellKernelEnv(t *testing.T) (*functionstest.Env, *runningSession) {
	t.Helper()
	env := newEnv(t)
	ka := startKernelAgent(t, env)
	return env, ka.startSession(t, env, "sh-"+uuid.NewString()[:8], shellImage, &functionstest.User)
}

// startKernelAgent runs an in-process agent with the process runtime until the test ends
// (functionstest.Env.StartAgent), recording the kernel events it sends.
func startKernelAgent(t *testing.T, env *functionstest.Env) *kernelAgent {
	t.Helper()
	rec := &recordingEnqueuer{}
	a, rt := env.StartAgent(t, "i-kernel", rec)
	return &kernelAgent{Agent: a, Runtime: rt, Addr: a.Addr(), Events: rec}
}

// startSession inserts a RUNNING session (and its RUNNING main kernel, placed on ka) named
// name of the owner of creds, and creates the kernel on the agent.
func (ka *kernelAgent) startSession(t *testing.T, env *functionstest.Env, name, image string, creds *auth.Credentials) *runningSession {
	t.Helper()
	sid, kid := env.RunningSession(t, ka.Agent.ID(), ka.Addr, name, image, creds)
	return &runningSession{ID: sid.String(), Name: name, KernelID: kid.String(), Image: image,
		AccessKey: creds.AccessKey, Agent: ka}
}

// execResult is the "result" of an execute answer.
type execResult struct {
	Status   string           `json:"status"`
	RunID    string           `json:"runId"`
	ExitCode *int             `json:"exitCode"`
	Options  map[string]any   `json:"options"`
	Files    []map[string]any `json:"files"`
	Console  [][2]string      `json:"console"`
}

// execute runs code in query mode (or the given mode) in rs as its owner and decodes the
// 200 answer.
func execute(t *testing.T, env *functionstest.Env, rs *runningSession, body map[string]any) execResult {
	t.Helper()
	res := env.Do(t, "POST", "/session/"+rs.Name, body, &functionstest.User)
	res.RequireStatus(t, 200)
	var out struct {
		Result execResult `json:"result"`
	}
	res.JSON(t, &out)
	return out.Result
}

// runToEnd executes code in query mode and continues the run until it finishes, returning
// every console record gathered, merged per stream.
func runToEnd(t *testing.T, env *functionstest.Env, rs *runningSession, code string) (execResult, string) {
	t.Helper()
	runID := uuid.NewString()
	r := execute(t, env, rs, map[string]any{"mode": "query", "code": code, "runId": runID})
	var stdout string
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, c := range r.Console {
			if c[0] == "stdout" {
				stdout += c[1]
			}
		}
		if r.Status != "continued" {
			return r, stdout
		}
		require.True(t, time.Now().Before(deadline), "run %s did not finish", runID)
		r = execute(t, env, rs, map[string]any{"mode": "continue", "code": "", "runId": runID})
	}
}

// serveAgent serves the agent RPC with h (typically a real agent wrapped to change some
// answers) on a free local port until the test ends, and returns its address.
func serveAgent(t *testing.T, h agentrpc.Handler) string {
	t.Helper()
	srv, err := agentrpc.NewServer("tcp://127.0.0.1:0", h, agentrpc.ServerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return srv.Addr()
}

// useAgentAt makes the API reach rs's kernel through the agent at addr.
func (rs *runningSession) useAgentAt(t *testing.T, env *functionstest.Env, addr string) {
	t.Helper()
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET agent_addr = $2 WHERE session_id = $1`, rs.ID, addr)
	require.NoError(t, err)
}
