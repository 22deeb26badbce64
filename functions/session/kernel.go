package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// target is a session's main kernel and a client of the agent it runs on: what every
// operation an agent answers directly (execute, logs, files, interrupt, restart) works on.
type target struct {
	Session *dbsqlc.SessionMatchRow
	Kernel  *dbsqlc.KernelMainGetRow
	// Agent is nil when the kernel is not placed on an agent (yet, or any more).
	Agent *agentrpc.Client
}

// findTarget resolves ref (the caller's session, §3.1 lookup rules) to its main kernel. With
// needLive the kernel must be running on an agent, else the answer is a 400 naming the state;
// without it a dead session's kernel is returned too (Agent then may be nil). A RUNNING
// session's access is recorded for the idle checkers (touch).
func findTarget(ctx context.Context, s *functions.Server, accessKey, ref string, needLive bool) (*target, error) {
	m, err := findSession(ctx, s, accessKey, ref, !needLive)
	if err != nil {
		return nil, err
	}
	k, err := db.Q.KernelMainGet(ctx, s.Deps().Pool, m.ID)
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil, functions.ErrObjectNotFound("main kernel", fmt.Sprintf("Session %s has no main kernel.", m.Name))
		}
		return nil, functions.FromDB(err, "main kernel")
	}
	t := &target{Session: m, Kernel: k}
	t.touch(ctx, s)
	if !lifecycle.IsRunning(k.Status) || k.AgentAddr == nil || *k.AgentAddr == "" {
		if needLive {
			return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("Session %s is not running (status %s).", m.Name, m.Status),
				map[string]any{"status": m.Status})
		}
		return t, nil
	}
	c, err := s.Deps().Agents.Get(*k.AgentAddr)
	if err != nil {
		return nil, functions.ErrInternal(fmt.Sprintf("agent %s: %v", *k.AgentAddr, err))
	}
	t.Agent = c
	return t, nil
}

// SessionID and KernelID are the target's ids as the agent protocol writes them.
func (t *target) SessionID() string { return t.Session.ID.String() }

// KernelID is the main kernel's id as the agent protocol writes it.
func (t *target) KernelID() string { return t.Kernel.ID.String() }

// countQuery records one executed run (query or batch) in the session and its main kernel.
// A failure is logged only: the run itself happened.
func (t *target) countQuery(ctx context.Context, s *functions.Server) {
	if err := db.Q.SessionQueryCountIncrement(ctx, s.Deps().Pool, &dbsqlc.SessionQueryCountIncrementParams{
		SessionID: t.Session.ID, KernelID: t.Kernel.ID,
	}); err != nil {
		s.Deps().Log().Warn("count executed query", "session", t.Session.ID, "err", err)
	}
}

// newRunID names a run the client gave no id for.
func newRunID() string { return uuid.NewString() }

// agentError maps an agent call's failure onto the Backend.AI error the client sees. It is
// the one place where the agent's error kinds (internal/agentrpc) become HTTP answers, by
// kind and never by message:
//   - KindInvalidInput and KindTooLarge are the caller's mistakes (a path through a file or
//     onto a directory, a name too long, a batch option of the wrong type, a second run while
//     one is going, a download past its limit): 400 invalid-api-params, its data naming the
//     offending key (param when given, else the agent's field) with the agent's reason;
//   - KindNotFound about a field is a missing file: 404 object-not-found;
//   - everything else (the agent failed, timed out, or lost the kernel) is the operation's
//     own type, as(msg): kernel-execution-failed, kernel-restart-failed, ...
//
// Backend.AI answers every agent error as the operation's 500; Hangar keeps that for the
// agent's failures only, since a user's mistake is no server error.
func agentError(err error, as func(msg string) *functions.Problem, param ...string) error {
	var p *functions.Problem
	if errors.As(err, &p) {
		return p
	}
	var re *agentrpc.RemoteError
	if !errors.As(err, &re) {
		return as(err.Error())
	}
	key := re.Field
	if len(param) > 0 && param[0] != "" {
		key = param[0]
	}
	switch {
	case re.Kind == agentrpc.KindInvalidInput, re.Kind == agentrpc.KindTooLarge:
		var data map[string]string
		if key != "" {
			data = map[string]string{key: re.Message}
		}
		return functions.ErrInvalidAPIParams(re.Message, data)
	case re.Kind == agentrpc.KindNotFound && re.Field != "":
		return functions.ErrObjectNotFound("file", re.Message)
	default:
		return as(re.Message)
	}
}
