package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// streamFlushTimeout is how long the agent gathers output before a streaming run's frame
// goes out; short, so output reaches the client as it comes.
const streamFlushTimeout = 200 * time.Millisecond

// streamReadLimit bounds one client message (code or input).
const streamReadLimit = 4 << 20

// streamRestartMsg tells a client the server is going away.
const streamRestartMsg = "The API server is going to restart for maintenance. Please connect again."

type streamExecuteInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`

	upgrade bool // the request asks for a WebSocket upgrade
}

// Resolve notes whether the request is a WebSocket upgrade, so that a plain GET gets a
// problem+json answer instead of the WebSocket library's plain-text one.
func (in *streamExecuteInput) Resolve(ctx huma.Context) []error {
	in.upgrade = headerHasToken(ctx.Header("Connection"), "upgrade") && headerHasToken(ctx.Header("Upgrade"), "websocket")
	return nil
}

// headerHasToken reports whether a comma-separated header value lists token (case-insensitive).
func headerHasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// StreamRequest is a client message that starts a run on the execute stream.
type StreamRequest struct {
	Code    string         `json:"code"`
	Mode    string         `json:"mode"`
	Options map[string]any `json:"options"`
}

// StreamFrame is a server message on the execute stream: a run's output since the last frame.
type StreamFrame struct {
	Status   string           `json:"status"`
	Console  [][2]string      `json:"console"`
	ExitCode *int             `json:"exitCode"`
	Options  map[string]any   `json:"options"`
	Files    []map[string]any `json:"files"`
}

// StreamNotice is the last server message of a stream that ends early: status error or
// server-restarting, and why.
type StreamNotice struct {
	Status string `json:"status"`
	Msg    string `json:"msg"`
}

func registerStreamExecute(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "stream-execute-session", Method: http.MethodGet, Path: "/stream/session/{session_name}/execute", Tag: tag,
		Summary: "Run code in a session over a WebSocket",
		Description: "Upgrades to a WebSocket (the upgrade request is signed like any other). The client sends a " +
			"text frame `{\"code\", \"mode\": \"query\"|\"batch\", \"options\"}`; the server answers with frames " +
			"`{\"status\", \"console\", \"exitCode\", \"options\", \"files\"}` until the status is \"finished\". On " +
			"\"waiting-input\" the client sends the input as one text frame. After a run finished the client may " +
			"send the next one. Failures end the stream with `{\"status\": \"error\", \"msg\"}`; a server going down " +
			"sends `{\"status\": \"server-restarting\", \"msg\"}`.",
		Role: functions.User, Frozen: functions.ReadAllowed, Status: http.StatusSwitchingProtocols, Errors: []int{400, 404},
	}), func(ctx context.Context, in *streamExecuteInput) (*huma.StreamResponse, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		if !in.upgrade {
			// aiohttp answers a plain request to a WebSocket route with 400 as well.
			return nil, functions.ErrGenericBadRequest("No WebSocket UPGRADE header: this route speaks WebSocket only.")
		}
		release, err := s.AcquireStream(ctx, functions.StreamWebSocket)
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer release()
			r, w := humago.Unwrap(hctx)
			// Requests are authenticated by their signature, not by cookies, so a foreign
			// Origin cannot ride on the caller's credentials.
			conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				s.Deps().Log().Debug("execute stream upgrade", "err", err, "request_id", functions.RequestID(ctx))
				return
			}
			conn.SetReadLimit(streamReadLimit)
			(&executeStream{s: s, t: t, conn: conn}).serve(context.WithoutCancel(ctx))
		}}, nil
	})
}

// executeStream is one execute WebSocket.
type executeStream struct {
	s    *functions.Server
	t    *target
	conn *websocket.Conn
	// msgs delivers the client's messages; it is closed when the client goes away.
	msgs chan string
}

// errStreamEnd ends a stream that already told its client why.
var errStreamEnd = errors.New("stream ended")

// serve runs the client's runs one after the other until the client closes the socket, a run
// fails or the server shuts down.
func (e *executeStream) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	e.msgs = make(chan string)
	go e.readLoop(ctx, cancel)
	go func() {
		select {
		case <-e.s.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		msg, err := e.next(ctx)
		if err != nil {
			break
		}
		if err := e.run(ctx, msg); err != nil {
			break
		}
	}
	_ = e.conn.Close(websocket.StatusNormalClosure, "")
}

// readLoop forwards the client's messages until the connection ends, then cancels the stream.
func (e *executeStream) readLoop(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	defer close(e.msgs)
	for {
		_, data, err := e.conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			return
		}
		select {
		case e.msgs <- string(data):
		case <-ctx.Done():
			return
		}
	}
}

// next waits for the client's next message. It reports errStreamEnd when the client left or
// the server is shutting down (after telling the client so).
func (e *executeStream) next(ctx context.Context) (string, error) {
	select {
	case msg, ok := <-e.msgs:
		if ok {
			return msg, nil
		}
	case <-ctx.Done():
	}
	e.restarting()
	return "", errStreamEnd
}

// restarting tells the client the server is going down, if it is.
func (e *executeStream) restarting() {
	select {
	case <-e.s.Done():
		e.send(&StreamNotice{Status: "server-restarting", Msg: streamRestartMsg})
		_ = e.conn.Close(websocket.StatusServiceRestart, "server restarting")
	default:
	}
}

// send writes one frame; a failure means the client is gone, which the read loop notices.
func (e *executeStream) send(f any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = wsjson.Write(ctx, e.conn, f)
}

// fail tells the client why the stream ends.
func (e *executeStream) fail(msg string) error {
	e.send(&StreamNotice{Status: "error", Msg: msg})
	return errStreamEnd
}

// run executes one client request to its end, feeding input when the run asks for it.
func (e *executeStream) run(ctx context.Context, raw string) error {
	var req StreamRequest
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return e.fail("Malformed request: " + err.Error())
	}
	if req.Mode != agentrpc.ExecModeQuery && req.Mode != agentrpc.ExecModeBatch {
		return e.fail(fmt.Sprintf("Invalid mode %q (query or batch).", req.Mode))
	}
	if req.Options == nil {
		req.Options = map[string]any{}
	}
	runID := newRunID()
	areq := &agentrpc.ExecuteRequest{SessionID: e.t.SessionID(), KernelID: e.t.KernelID(), RunID: runID,
		Mode: req.Mode, Code: req.Code, Options: req.Options, FlushTimeout: streamFlushTimeout}
	e.t.countQuery(ctx, e.s)
	for {
		cctx, cancel := context.WithTimeout(ctx, executeCallTimeout)
		res, err := e.t.Agent.Execute(cctx, areq)
		cancel()
		e.t.touch(ctx, e.s) // the run was in progress until now
		if ctx.Err() != nil {
			e.restarting()
			return errStreamEnd
		}
		if err != nil {
			var p *functions.Problem
			if errors.As(agentError(err, functions.ErrKernelExecutionFailed), &p) {
				msg := p.Title
				if p.Msg != "" {
					msg = p.Msg
				}
				return e.fail(msg)
			}
			return e.fail(err.Error())
		}
		out := executeResult(runID, res)
		e.send(&StreamFrame{Status: out.Status, Console: out.Console, ExitCode: out.ExitCode, Options: out.Options, Files: out.Files})
		switch out.Status {
		case agentrpc.ExecStatusFinished, agentrpc.ExecStatusExecTimeout:
			return nil
		case agentrpc.ExecStatusWaitingInput:
			input, err := e.next(ctx)
			if err != nil {
				return err
			}
			areq = &agentrpc.ExecuteRequest{SessionID: areq.SessionID, KernelID: areq.KernelID, RunID: runID,
				Mode: agentrpc.ExecModeInput, Code: input, FlushTimeout: streamFlushTimeout}
		default:
			areq = &agentrpc.ExecuteRequest{SessionID: areq.SessionID, KernelID: areq.KernelID, RunID: runID,
				Mode: agentrpc.ExecModeContinue, FlushTimeout: streamFlushTimeout}
		}
	}
}
