package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// executeFlushTimeout is how long the agent gathers a run's output before it answers
// "continued" (the call is long-polling; clients continue the run).
const executeFlushTimeout = 2 * time.Second

// executeCallTimeout bounds one execute call to the agent, well above the flush timeout.
const executeCallTimeout = 30 * time.Second

// interruptedExitCode is the exit code reported when the agent answers an execute with nothing.
const interruptedExitCode = 130

// executeModes are the modes an execute accepts.
var executeModes = map[string]bool{ //nolint:gochecknoglobals // read-only
	agentrpc.ExecModeQuery: true, agentrpc.ExecModeBatch: true, agentrpc.ExecModeComplete: true,
	agentrpc.ExecModeContinue: true, agentrpc.ExecModeInput: true,
}

type executeInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	// Body is read as a free-form object: the runId key must be present even when null, which
	// a typed body could not tell from a missing one.
	Body map[string]any `required:"false" doc:"{\"mode\": \"query\"|\"batch\"|\"continue\"|\"input\"|\"complete\", \"runId\": string|null (the key is required), \"code\": string|null, \"options\": object|null}."`
}

// ExecuteResult is one execute answer: the output gathered since the last call of the run.
type ExecuteResult struct {
	Status   string           `json:"status" doc:"finished, continued, waiting-input, build-finished, clean-finished or exec-timeout."`
	RunID    *string          `json:"runId" doc:"The run's id; continue the run with it."`
	ExitCode *int             `json:"exitCode" doc:"The exit code once the run finished, else null."`
	Options  map[string]any   `json:"options" doc:"Mode-specific result options."`
	Files    []map[string]any `json:"files" doc:"Files the run produced."`
	Console  [][2]string      `json:"console" doc:"[type, content] pairs in order (stdout, stderr, media, html, ...)."`
}

// ExecuteOutput is the answer of POST /session/{session_name}.
type ExecuteOutput struct {
	Body struct {
		Result any `json:"result" doc:"The run's output (ExecuteResult), or the completion result for mode complete."`
	}
}

func registerExecute(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "execute-session", Method: http.MethodPost, Path: "/session/{session_name}", Tag: tag,
		Summary: "Run code in a session",
		Description: "Runs code in the session's main kernel (mode query or batch), continues a run (continue), " +
			"feeds it input (input) or asks for completions (complete). The call answers after at most about " +
			"2 seconds with the output so far; while the status is \"continued\", call again with mode continue " +
			"and the same runId.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *executeInput) (*ExecuteOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		req, err := executeParams(in.Body)
		if err != nil {
			return nil, err
		}
		req.SessionID, req.KernelID = t.SessionID(), t.KernelID()
		if req.Mode == agentrpc.ExecModeComplete {
			res, err := completions(ctx, t, req)
			if err != nil {
				return nil, err
			}
			out := &ExecuteOutput{}
			out.Body.Result = res
			return out, nil
		}
		cctx, cancel := context.WithTimeout(ctx, executeCallTimeout)
		defer cancel()
		res, err := t.Agent.Execute(cctx, req)
		t.touch(ctx, s) // the run was in progress until now
		if err != nil {
			// A second run while one is going, or options the agent refuses, are the caller's
			// 400; see agentError.
			return nil, agentError(err, functions.ErrKernelExecutionFailed)
		}
		if req.Mode == agentrpc.ExecModeQuery || req.Mode == agentrpc.ExecModeBatch {
			t.countQuery(ctx, s)
		}
		out := &ExecuteOutput{}
		out.Body.Result = executeResult(req.RunID, res)
		return out, nil
	})
}

// executeParams validates an execute body the way Backend.AI does (no schema: the keys are
// checked one by one) and returns the agent request. A null runId gets a fresh id.
func executeParams(body map[string]any) (*agentrpc.ExecuteRequest, error) {
	rawRunID, ok := body["runId"]
	if !ok {
		return nil, functions.ErrInvalidAPIParams("runId is missing!", nil)
	}
	var runID string
	switch v := rawRunID.(type) {
	case nil:
	case string:
		runID = v
	default:
		return nil, functions.ErrInvalidAPIParams("runId must be a string or null.", nil)
	}
	mode, _ := body["mode"].(string)
	if body["mode"] != nil {
		if _, isString := body["mode"].(string); !isString {
			return nil, functions.ErrInvalidAPIParams("mode has an invalid value.", nil)
		}
	}
	if mode == "" {
		return nil, functions.ErrInvalidAPIParams("mode is missing or empty!", nil)
	}
	if !executeModes[mode] {
		return nil, functions.ErrInvalidAPIParams("mode has an invalid value.", nil)
	}
	if (mode == agentrpc.ExecModeContinue || mode == agentrpc.ExecModeInput) && rawRunID == nil {
		return nil, functions.ErrInvalidAPIParams("continuation requires explicit run ID", nil)
	}
	var code string
	switch v := body["code"].(type) {
	case nil:
	case string:
		code = v
	default:
		return nil, functions.ErrInvalidAPIParams("code must be a string or null.", nil)
	}
	opts := map[string]any{}
	switch v := body["options"].(type) {
	case nil:
	case map[string]any:
		opts = v
	default:
		return nil, functions.ErrInvalidAPIParams("options must be an object or null.", nil)
	}
	if mode == agentrpc.ExecModeBatch {
		if err := checkBatchOptions(opts); err != nil {
			return nil, err
		}
	}
	if runID == "" {
		runID = newRunID()
	}
	return &agentrpc.ExecuteRequest{RunID: runID, Mode: mode, Code: code, Options: opts, FlushTimeout: executeFlushTimeout}, nil
}

// batchOptionTypes are the types of the batch options Backend.AI's SDK sends: the commands
// clean, build and exec are strings, buildLog a boolean; each may be null or absent. Other
// keys are passed on untouched.
var batchOptionTypes = map[string]string{"clean": "string", "build": "string", "exec": "string", "buildLog": "boolean"} //nolint:gochecknoglobals // read-only

// checkBatchOptions refuses batch options of the wrong type, naming the offending key.
func checkBatchOptions(opts map[string]any) error {
	for _, key := range []string{"clean", "build", "exec", "buildLog"} {
		v, ok := opts[key]
		if !ok || v == nil {
			continue
		}
		want := batchOptionTypes[key]
		_, isString := v.(string)
		_, isBool := v.(bool)
		if (want == "string" && !isString) || (want == "boolean" && !isBool) {
			msg := fmt.Sprintf("options.%s must be a %s or null.", key, want)
			return functions.ErrInvalidAPIParams(msg, map[string]string{"options." + key: msg})
		}
	}
	return nil
}

// executeResult writes an agent's answer as Backend.AI does; no answer at all means the run
// was cut off (the kernel ended or the agent was interrupted).
func executeResult(runID string, res *agentrpc.ExecuteResult) *ExecuteResult {
	if res == nil || res.Status == "" {
		code := interruptedExitCode
		return &ExecuteResult{Status: agentrpc.ExecStatusFinished, RunID: &runID, ExitCode: &code,
			Options: map[string]any{}, Files: []map[string]any{}, Console: [][2]string{}}
	}
	out := &ExecuteResult{Status: res.Status, RunID: &runID, ExitCode: res.ExitCode, Options: res.Options,
		Files: res.Files, Console: res.Console}
	if res.RunID != "" {
		out.RunID = &res.RunID
	}
	if out.Options == nil {
		out.Options = map[string]any{}
	}
	if out.Files == nil {
		out.Files = []map[string]any{}
	}
	if out.Console == nil {
		out.Console = [][2]string{}
	}
	return out
}

// completions asks the agent for code completions; a runtime without them answers with
// none, as Backend.AI does.
func completions(ctx context.Context, t *target, req *agentrpc.ExecuteRequest) (map[string]any, error) {
	none := map[string]any{"status": agentrpc.ExecStatusFinished, "completions": []any{}}
	if t.Agent == nil {
		return none, nil
	}
	req.Mode = agentrpc.ExecModeComplete
	cctx, cancel := context.WithTimeout(ctx, executeCallTimeout)
	defer cancel()
	res, err := t.Agent.Execute(cctx, req)
	var re *agentrpc.RemoteError
	if errors.As(err, &re) && re.Kind == agentrpc.KindUnknownMethod {
		return none, nil
	}
	if err != nil {
		return nil, agentError(err, functions.ErrKernelExecutionFailed)
	}
	if res == nil {
		return none, nil
	}
	out := map[string]any{"status": res.Status, "completions": []any{}}
	if res.Status == "" {
		out["status"] = agentrpc.ExecStatusFinished
	}
	if c, ok := res.Options["completions"]; ok && c != nil {
		out["completions"] = c
	}
	return out, nil
}
