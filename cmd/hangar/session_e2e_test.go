package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/stacktest"
)

// End-to-end tests of compute sessions: `hangar api`, `hangar worker` and `hangar-agent`
// run as processes (internal/stacktest) against the halfstack, driven through signed HTTP
// requests as a user would.

func TestMain(m *testing.M) { stacktest.Main(m) }

// e2eWait bounds every wait for a session state.
const e2eWait = 30 * time.Second

// createSession posts a create request and checks the status code.
func createSession(t *testing.T, s *stacktest.Stack, body map[string]any, want int) map[string]any {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/session", body, &stacktest.User)
	res.RequireStatus(t, want)
	var out map[string]any
	res.JSON(t, &out)
	return out
}

// pythonSession is a create request for an interactive Python session.
func pythonSession(name string, extra map[string]any) map[string]any {
	body := map[string]any{
		"name": name, "image": "python", "maxWaitSeconds": 30,
		"config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "256m"}},
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// batchSession is a create request for a batch session running cmd.
func batchSession(name, cmd string, extra map[string]any) map[string]any {
	body := map[string]any{
		"name": name, "image": "python", "type": "batch", "startupCommand": cmd, "enqueueOnly": true,
		"config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "256m"}},
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// execute runs code in query mode and returns the result object.
func execute(t *testing.T, s *stacktest.Stack, name, runID, code string) map[string]any {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/session/"+name, map[string]any{"mode": "query", "runId": runID, "code": code}, &stacktest.User)
	res.RequireStatus(t, http.StatusOK)
	var out struct {
		Result map[string]any `json:"result"`
	}
	res.JSON(t, &out)
	// A long-polling run may answer "continued"; continue it until it finishes.
	for i := 0; out.Result["status"] == "continued" && i < 20; i++ {
		res = s.Do(t, http.MethodPost, "/session/"+name, map[string]any{"mode": "continue", "runId": runID, "code": ""}, &stacktest.User)
		res.RequireStatus(t, http.StatusOK)
		res.JSON(t, &out)
	}
	return out.Result
}

func kernelStatuses(t *testing.T, s *stacktest.Stack, sid string) []string {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT status::text FROM kernels WHERE session_id = $1 ORDER BY cluster_idx`, sid)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var st string
		require.NoError(t, rows.Scan(&st))
		out = append(out, st)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestE2EPythonSession(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "process"}}})

	created := createSession(t, s, pythonSession("py-e2e", nil), http.StatusCreated)
	require.Equal(t, "RUNNING", created["status"], "%v", created)
	require.Equal(t, true, created["created"], "%v", created)
	sid := created["sessionId"].(string)
	require.Equal(t, []string{"RUNNING"}, kernelStatuses(t, s, sid))
	s.RequireConsistent(t)
	occ := s.Occupied(t)
	require.Equal(t, "1", occ["agent-1/cpu"], "%v", occ)

	r := execute(t, s, "py-e2e", "r1", "print(1)")
	require.Equal(t, "finished", r["status"], "%v", r)
	require.Equal(t, []any{[]any{"stdout", "1\n"}}, r["console"], "%v", r)

	// The interpreter keeps its state between runs.
	r = execute(t, s, "py-e2e", "r2", "x = 41")
	require.Equal(t, "finished", r["status"], "%v", r)
	r = execute(t, s, "py-e2e", "r3", "print(x + 1)")
	require.Equal(t, []any{[]any{"stdout", "42\n"}}, r["console"], "%v", r)

	logs := s.Do(t, http.MethodGet, "/session/py-e2e/logs", nil, &stacktest.User)
	logs.RequireStatus(t, http.StatusOK)
	var lb struct {
		Result struct {
			Logs string `json:"logs"`
		} `json:"result"`
	}
	logs.JSON(t, &lb)
	require.Contains(t, lb.Result.Logs, "1\n42\n")

	// Another user does not see the session.
	s.Do(t, http.MethodGet, "/session/py-e2e", nil, &stacktest.User2).RequireProblem(t, http.StatusNotFound, "object-not-found")

	// The kernel is a process group on the agent's host, gone once the session is destroyed.
	var container string
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT container_id FROM kernels WHERE session_id = $1`, sid).Scan(&container))
	pgid, err := strconv.Atoi(strings.TrimPrefix(container, "pgid-"))
	require.NoError(t, err, "container id %q", container)
	require.NoError(t, syscall.Kill(-pgid, 0), "the kernel's process group runs")

	s.Do(t, http.MethodDelete, "/session/py-e2e", nil, &stacktest.User).RequireStatus(t, http.StatusOK)
	got := s.WaitSession(t, sid, e2eWait, "TERMINATED")
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		return syscall.Kill(-pgid, 0) == syscall.ESRCH, "the kernel's process group still runs"
	})
	require.Equal(t, "user-requested", got.StatusInfo)
	require.Equal(t, []string{"TERMINATED"}, kernelStatuses(t, s, sid))
	s.RequireIdle(t)
	s.RequireConsistent(t)
}

// wsFrame is a server frame of the execute WebSocket.
type wsFrame struct {
	Status   string         `json:"status"`
	Msg      string         `json:"msg"`
	Console  [][2]string    `json:"console"`
	ExitCode *int           `json:"exitCode"`
	Options  map[string]any `json:"options"`
}

// readFrames reads execute frames until one has status stop, and returns them all.
func readFrames(t *testing.T, conn *websocket.Conn, stop string) []wsFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	var frames []wsFrame
	for {
		var f wsFrame
		require.NoError(t, wsjson.Read(ctx, conn, &f))
		frames = append(frames, f)
		if f.Status == stop {
			return frames
		}
		require.Contains(t, []string{"continued", "clean-finished", "build-finished"}, f.Status, "frame %+v", f)
	}
}

// frameOutput joins the stream records of frames.
func frameOutput(frames []wsFrame, stream string) string {
	var b strings.Builder
	for _, f := range frames {
		for _, c := range f.Console {
			if c[0] == stream {
				b.WriteString(c[1])
			}
		}
	}
	return b.String()
}

func TestE2EStreamBatchAndInput(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 1, Agents: []stacktest.AgentSpec{{Runtime: "process"}}})
	created := createSession(t, s, pythonSession("run-e2e", nil), http.StatusCreated)
	require.Equal(t, "RUNNING", created["status"], "%v", created)
	sid := created["sessionId"].(string)

	// `backend.ai run` opens the execute stream with the session's id, signing the upgrade.
	u := s.Endpoint + "/stream/session/" + sid + "/execute"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	require.NoError(t, stacktest.User.SignRequest(req, s.APIVersion, time.Now()))
	ctx := t.Context()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(u, "http"), &websocket.DialOptions{HTTPHeader: req.Header})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()

	// A batch run: the build writes the program that exec "*" (python main.py) runs.
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"mode": "batch", "code": "", "options": map[string]any{
		"clean": nil, "buildLog": false,
		"build": `printf 'print(open("built.txt").read().strip(), 6 * 7)\n' > main.py && echo built > built.txt && echo building`,
		"exec":  "*",
	}}))
	frames := readFrames(t, conn, "finished")
	var statuses []string
	for _, f := range frames {
		if f.Status != "continued" {
			statuses = append(statuses, f.Status)
		}
	}
	require.Equal(t, []string{"build-finished", "finished"}, statuses, "%+v", frames)
	require.Equal(t, "building\nbuilt 42\n", frameOutput(frames, "stdout"), "%+v", frames)
	require.Equal(t, 0, *frames[len(frames)-1].ExitCode)

	// The same socket then runs a query, and one that asks for input.
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"mode": "query", "code": "print(1 + 1)", "options": map[string]any{}}))
	require.Equal(t, "2\n", frameOutput(readFrames(t, conn, "finished"), "stdout"))
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"mode": "query", "code": "name = input('Who? ')\nprint('hello', name)"}))
	frames = readFrames(t, conn, "waiting-input")
	require.Equal(t, "Who? ", frameOutput(frames, "stdout"))
	require.Equal(t, map[string]any{"is_password": false}, frames[len(frames)-1].Options)
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("world")))
	frames = readFrames(t, conn, "finished")
	require.Equal(t, "hello world\n", frameOutput(frames, "stdout"))
	require.Equal(t, 0, *frames[len(frames)-1].ExitCode)
	require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))

	s.Do(t, http.MethodDelete, "/session/run-e2e", nil, &stacktest.User).RequireStatus(t, http.StatusOK)
	s.WaitSession(t, sid, e2eWait, "TERMINATED")
	s.RequireIdle(t)
	s.RequireConsistent(t)
}

func TestE2EBatchAndDependencies(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "process"}}})
	ev := s.Events(t)

	t.Run("failure", func(t *testing.T) {
		sid := createSession(t, s, batchSession("batch-fail", "exit 3", nil), http.StatusCreated)["sessionId"].(string)
		e := ev.Wait(t, sid, events.SessionFailure, e2eWait)
		require.NotNil(t, e.ExitCode)
		require.Equal(t, 3, *e.ExitCode)
		got := s.WaitSession(t, sid, e2eWait, "TERMINATED")
		require.Equal(t, "FAILURE", got.Result)
		require.Equal(t, []string{"TERMINATED"}, kernelStatuses(t, s, sid))
	})
	t.Run("success", func(t *testing.T) {
		sid := createSession(t, s, batchSession("batch-ok", "echo ok", nil), http.StatusCreated)["sessionId"].(string)
		ev.Wait(t, sid, events.SessionSuccess, e2eWait)
		got := s.WaitSession(t, sid, e2eWait, "TERMINATED")
		require.Equal(t, "SUCCESS", got.Result)
		names := ev.Names(sid)
		require.Less(t, indexOf(names, events.SessionSuccess), indexOf(names, events.SessionTerminated), "%v", names)
	})
	t.Run("dependency", func(t *testing.T) {
		// A waits for a file in its working directory that the test creates (with a query in
		// A's sandboxed kernel) once B is seen waiting for A.
		a := createSession(t, s, batchSession("dep-a", "while [ ! -e go ]; do sleep 0.05; done", nil), http.StatusCreated)["sessionId"].(string)
		s.WaitSession(t, a, e2eWait, "RUNNING")
		b := createSession(t, s, batchSession("dep-b", "echo after", map[string]any{"dependencies": []string{a}}), http.StatusCreated)["sessionId"].(string)
		stacktest.Eventually(t, e2eWait, func() (bool, string) {
			got := s.Session(t, b)
			return got.Status == "PENDING" && got.StatusInfo == "predicate-checks-failed" &&
				strings.Contains(fmt.Sprint(got.StatusData), "dependencies"), fmt.Sprintf("%+v", got)
		})
		require.Equal(t, "RUNNING", s.Session(t, a).Status)
		gateAt := time.Now()
		require.EqualValues(t, 0, execute(t, s, "dep-a", "gate", "open('go', 'w').close()")["exitCode"])
		require.Equal(t, "SUCCESS", s.WaitSession(t, a, e2eWait, "TERMINATED").Result)
		require.Equal(t, "SUCCESS", s.WaitSession(t, b, e2eWait, "TERMINATED").Result)
		// B was scheduled only once A could end (A cannot end before the gate exists). The
		// pass's clock is read before it takes the scaling group's lock, so its SCHEDULED time
		// is not ordered against A's terminated_at, which another worker writes.
		var after bool
		require.NoError(t, s.DB.QueryRow(context.Background(), `
			SELECT (status_history->>'SCHEDULED')::timestamptz >= $2 FROM sessions WHERE id = $1`, b, gateAt).Scan(&after))
		require.True(t, after, "dep-b was scheduled before dep-a could end")
	})
	s.RequireIdle(t)
	s.RequireConsistent(t)
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func TestE2EEnqueueEventsAndBadInput(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "dummy"}}})
	ev := s.Events(t)

	t.Run("events", func(t *testing.T) {
		created := createSession(t, s, pythonSession("enq-e2e", map[string]any{"enqueueOnly": true}), http.StatusCreated)
		require.Equal(t, "PENDING", created["status"])
		sid := created["sessionId"].(string)
		ev.Wait(t, sid, events.SessionStarted, e2eWait)
		require.Equal(t, []string{
			events.SessionEnqueued, events.SessionScheduled, events.KernelPreparing, events.KernelStarted, events.SessionStarted,
		}, ev.Names(sid))
		require.Equal(t, "RUNNING", s.Session(t, sid).Status)

		s.Do(t, http.MethodDelete, "/session/enq-e2e", nil, &stacktest.User).RequireStatus(t, http.StatusOK)
		ev.Wait(t, sid, events.SessionTerminated, e2eWait)
		names := ev.Names(sid)
		require.Equal(t, []string{events.SessionTerminating, events.KernelTerminating, events.KernelTerminated, events.SessionTerminated}, names[5:], "%v", names)
		s.RequireIdle(t)
	})

	t.Run("bad input", func(t *testing.T) {
		p := s.Do(t, http.MethodPost, "/session", pythonSession("bad-image", map[string]any{"image": "no-such-image"}), &stacktest.User).
			RequireProblem(t, http.StatusNotFound, "object-not-found")
		require.Equal(t, "No such environment image.", p.Title)
		s.Do(t, http.MethodPost, "/session", map[string]any{
			"name": "bad-res", "image": "python", "enqueueOnly": true, "config": map[string]any{"resources": map[string]any{"cpu": "lots"}},
		}, &stacktest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		s.Do(t, http.MethodPost, "/session", map[string]any{
			"name": "bad-slot", "image": "python", "enqueueOnly": true, "config": map[string]any{"resources": map[string]any{"warp.drive": 1}},
		}, &stacktest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		s.Do(t, http.MethodPost, "/session", pythonSession("ab", nil), &stacktest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		s.Do(t, http.MethodPost, "/session", pythonSession(strings.Repeat("n", 65), nil), &stacktest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		p = s.Do(t, http.MethodPost, "/session", pythonSession("bad-sgroup", map[string]any{
			"config": map[string]any{"scaling_group": "no-such-group"},
		}), &stacktest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
		require.Equal(t, "No such scaling group.", p.Title)
		s.Do(t, http.MethodPost, "/session", batchSession("bad-batch", "", nil), &stacktest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		// Nothing was created.
		var n int
		require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE name LIKE 'bad-%' OR name = 'ab'`).Scan(&n))
		require.Zero(t, n)

		// Another user's session does not exist for the caller.
		sid := createSession(t, s, pythonSession("mine-e2e", map[string]any{"enqueueOnly": true}), http.StatusCreated)["sessionId"].(string)
		for _, ref := range []string{"mine-e2e", sid} {
			s.Do(t, http.MethodGet, "/session/"+ref, nil, &stacktest.User2).RequireProblem(t, http.StatusNotFound, "object-not-found")
			s.Do(t, http.MethodDelete, "/session/"+ref, nil, &stacktest.User2).RequireProblem(t, http.StatusNotFound, "object-not-found")
		}
		s.Do(t, http.MethodGet, "/session/mine-e2e", nil, &stacktest.User).RequireStatus(t, http.StatusOK)
	})
}

func TestE2EOverQuota(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "dummy"}}})
	s.Do(t, http.MethodPatch, "/admin/keypair-resource-policies/default", map[string]any{"max_concurrent_sessions": 1}, &stacktest.Superadmin).
		RequireStatus(t, http.StatusOK)

	first := createSession(t, s, pythonSession("quota-1", nil), http.StatusCreated)
	require.Equal(t, "RUNNING", first["status"], "%v", first)
	second := createSession(t, s, pythonSession("quota-2", map[string]any{"enqueueOnly": true}), http.StatusCreated)["sessionId"].(string)
	var got stacktest.Session
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		got = s.Session(t, second)
		return got.StatusInfo != "", fmt.Sprintf("%+v", got)
	})
	require.Equal(t, "PENDING", got.Status)
	require.Equal(t, "predicate-checks-failed", got.StatusInfo)
	require.Contains(t, fmt.Sprint(got.StatusData), "You cannot run more than 1 concurrent sessions", "%v", got.StatusData)
	require.Contains(t, fmt.Sprint(got.StatusData), "concurrency")

	// Ending the first session lets the second one run.
	s.Do(t, http.MethodDelete, "/session/quota-1", nil, &stacktest.User).RequireStatus(t, http.StatusOK)
	s.WaitSession(t, second, e2eWait, "RUNNING")
	s.RequireConsistent(t)
}

func TestE2EForcedDestroyPreparing(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "dummy"}}})
	// A stopped agent never answers create_kernels: its session stays PREPARING.
	resume := s.Agents[0].Freeze(t)
	sid := createSession(t, s, pythonSession("prep-e2e", map[string]any{"enqueueOnly": true}), http.StatusCreated)["sessionId"].(string)
	s.WaitSession(t, sid, e2eWait, "PREPARING")
	require.Equal(t, "1", s.Occupied(t)["agent-1/cpu"], "the PREPARING session holds its slots")

	s.Do(t, http.MethodDelete, "/session/prep-e2e", nil, &stacktest.User).RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	s.Do(t, http.MethodDelete, "/session/prep-e2e", map[string]any{"forced": true}, &stacktest.User).RequireStatus(t, http.StatusOK)
	resume()
	got := s.WaitSession(t, sid, e2eWait, "TERMINATED", "CANCELLED")
	require.Equal(t, "force-terminated", got.StatusInfo)
	for _, st := range kernelStatuses(t, s, sid) {
		require.Contains(t, []string{"TERMINATED", "CANCELLED"}, st)
	}
	s.RequireIdle(t)
	s.RequireConsistent(t)
}

func TestE2EAgentRejectsKernel(t *testing.T) {
	t.Parallel()
	// The agent finds no Python interpreter: not at the image's runtime path, not on its PATH.
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{
		Runtime: "process", Env: []string{"PATH=" + t.TempDir()},
	}}})
	_, err := s.DB.Exec(context.Background(),
		`UPDATE images SET labels = labels || '{"ai.backend.runtime-path": "/nonexistent/python3"}'::jsonb WHERE name LIKE '%python%'`)
	require.NoError(t, err)
	ev := s.Events(t)

	created := createSession(t, s, pythonSession("reject-e2e", nil), http.StatusCreated)
	sid := created["sessionId"].(string)
	ev.Wait(t, sid, events.SessionCancelled, e2eWait)
	got := s.WaitSession(t, sid, e2eWait, "ERROR")
	require.Equal(t, "failed-to-start", got.StatusInfo)
	require.Contains(t, fmt.Sprint(got.StatusData), "python3", "%v", got.StatusData)
	require.Equal(t, []string{"ERROR"}, kernelStatuses(t, s, sid))
	require.Equal(t, "ERROR", created["status"], "%v", created)
	s.RequireIdle(t)
	s.RequireConsistent(t)
}

func TestE2EConcurrentCreates(t *testing.T) {
	t.Parallel()
	const (
		agents, cpuPerAgent = 20, 4
		creates, workers    = 500, 25
	)
	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{
		ID: "sim", Runtime: "dummy", Simulate: agents, Slots: map[string]string{"cpu": fmt.Sprint(cpuPerAgent), "mem": "4g"},
	}}})
	ctx := context.Background()
	_, err := s.DB.Exec(ctx, `UPDATE keypair_resource_policies SET max_concurrent_sessions = 10000, max_pending_session_count = 10000`)
	require.NoError(t, err)
	// What does not fit is cancelled after a while instead of pending forever.
	_, err = s.DB.Exec(ctx, `UPDATE scaling_groups SET scheduler_opts = scheduler_opts || '{"pending_timeout": 8}'::jsonb WHERE name = 'default'`)
	require.NoError(t, err)

	keys := []auth.Credentials{stacktest.User, stacktest.User2, stacktest.DomainAdmin, stacktest.Superadmin}
	var wg sync.WaitGroup
	errs := make(chan string, creates)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < creates; i += workers {
				creds := keys[i%len(keys)]
				res, err := s.Request(http.MethodPost, "/session", pythonSession(fmt.Sprintf("conc-%03d", i), map[string]any{"enqueueOnly": true}), &creds)
				switch {
				case err != nil:
					errs <- err.Error()
				case res.Status != http.StatusCreated:
					errs <- fmt.Sprintf("create %d: %d %s", i, res.Status, res.Body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	require.False(t, t.Failed())

	stacktest.Eventually(t, 90*time.Second, func() (bool, string) {
		var n int
		require.NoError(t, s.DB.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE status IN ('PENDING', 'SCHEDULED', 'PREPARING')`).Scan(&n))
		// The slot invariant holds at every moment, not only at the end.
		s.RequireConsistent(t)
		return n == 0, fmt.Sprintf("%d sessions still PENDING, SCHEDULED or PREPARING", n)
	})
	counts := map[string]int{}
	rows, err := s.DB.Query(ctx, `SELECT status::text, coalesce(status_info, ''), count(*) FROM sessions GROUP BY 1, 2`)
	require.NoError(t, err)
	for rows.Next() {
		var st, info string
		var n int
		require.NoError(t, rows.Scan(&st, &info, &n))
		switch st {
		case "RUNNING":
		case "CANCELLED":
			require.NotEmpty(t, info, "a session was cancelled without a reason")
		default:
			t.Errorf("%d sessions ended %s (%s)", n, st, info)
		}
		counts[st] += n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, creates, counts["RUNNING"]+counts["CANCELLED"], "%v", counts)
	require.Equal(t, agents*cpuPerAgent, counts["RUNNING"], "every cpu should be used: %v", counts)
	s.RequireConsistent(t)

	// Destroy everything that runs, as the owners.
	byKey := map[string]auth.Credentials{}
	for _, k := range keys {
		byKey[k.AccessKey] = k
	}
	type live struct{ id, key string }
	var running []live
	rows, err = s.DB.Query(ctx, `SELECT id::text, access_key FROM sessions WHERE status = 'RUNNING'`)
	require.NoError(t, err)
	for rows.Next() {
		var l live
		require.NoError(t, rows.Scan(&l.id, &l.key))
		running = append(running, l)
	}
	require.NoError(t, rows.Err())
	errs = make(chan string, len(running))
	for i := range workers {
		wg.Go(func() {
			for j := i; j < len(running); j += workers {
				creds := byKey[running[j].key]
				res, err := s.Request(http.MethodDelete, "/session/"+running[j].id, nil, &creds)
				switch {
				case err != nil:
					errs <- err.Error()
				case res.Status != http.StatusOK:
					errs <- fmt.Sprintf("destroy %s: %d %s", running[j].id, res.Status, res.Body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	require.False(t, t.Failed())
	stacktest.Eventually(t, 60*time.Second, func() (bool, string) {
		var n int
		require.NoError(t, s.DB.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE status NOT IN ('TERMINATED', 'CANCELLED')`).Scan(&n))
		return n == 0, fmt.Sprintf("%d sessions not ended", n)
	})
	s.RequireIdle(t)
	s.RequireConsistent(t)
}
