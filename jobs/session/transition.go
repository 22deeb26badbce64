package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
)

// Session and kernel statuses the handlers move between.
const (
	statusPending     = "PENDING"
	statusScheduled   = "SCHEDULED"
	statusPreparing   = "PREPARING"
	statusRunning     = "RUNNING"
	statusTerminating = "TERMINATING"
	statusTerminated  = "TERMINATED"
	statusCancelled   = "CANCELLED"
	statusError       = "ERROR"
)

// Results of a kernel or session.
const (
	resultSuccess = "SUCCESS"
	resultFailure = "FAILURE"
)

// statusInfoFailedToStart is the status_info of a session whose agents failed to start it.
const statusInfoFailedToStart = "failed-to-start"

// endedStatuses are the statuses a session or kernel never leaves.
var endedStatuses = []string{statusTerminated, statusCancelled, statusError}

// liveKernelStatuses are the kernel statuses that have not ended.
var liveKernelStatuses = []string{
	statusPending, statusScheduled, statusPreparing, "BUILDING", "PULLING", statusRunning,
	"RESTARTING", "RESIZING", "SUSPENDED", statusTerminating,
}

// isEnded reports whether status is one a session never leaves.
func isEnded(status string) bool {
	for _, s := range endedStatuses {
		if s == status {
			return true
		}
	}
	return false
}

// isoTime writes t as the status history stores it: ISO 8601 in UTC.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

// change describes one guarded status transition.
type change struct {
	// from are the statuses the row may be in; the transition does nothing otherwise.
	from []string
	// to is the new status.
	to string
	// info, when set, replaces status_info.
	info *string
	// data, when set, replaces status_data.
	data any
	// result, when set, replaces result.
	result *string
}

// strp returns a pointer to s.
func strp(s string) *string { return &s }

// encodeData returns c.data as JSON, or nil when unset.
func (c *change) encodeData() (json.RawMessage, error) {
	if c.data == nil {
		return nil, nil
	}
	b, err := json.Marshal(c.data)
	if err != nil {
		return nil, fmt.Errorf("encode status data: %w", err)
	}
	return b, nil
}

// transitionSession applies c to session id at now. It returns nil and no error when the
// session is not in one of c.from.
func transitionSession(ctx context.Context, tx pgx.Tx, id uuid.UUID, c change, now time.Time) (*dbsqlc.SessionTransitionRow, error) {
	data, err := c.encodeData()
	if err != nil {
		return nil, err
	}
	row, err := db.Q.SessionTransition(ctx, tx, &dbsqlc.SessionTransitionParams{
		ToStatus: c.to, Now: now, StatusInfo: c.info, StatusData: data, Iso: isoTime(now),
		Result: c.result, ID: id, FromStatuses: c.from,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session %s → %s: %w", id, c.to, err)
	}
	return row, nil
}

// transitionKernels applies c to the kernels of session sessionID (only kernel kernelID when
// not nil) that are in one of c.from, and returns those it changed.
func transitionKernels(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID, kernelID *uuid.UUID, c change, now time.Time) ([]*dbsqlc.KernelTransitionRow, error) {
	data, err := c.encodeData()
	if err != nil {
		return nil, err
	}
	rows, err := db.Q.KernelTransition(ctx, tx, &dbsqlc.KernelTransitionParams{
		ToStatus: c.to, Now: now, StatusInfo: c.info, StatusData: data, Iso: isoTime(now),
		Result: c.result, SessionID: sessionID, KernelID: kernelID, FromStatuses: c.from,
	})
	if err != nil {
		return nil, fmt.Errorf("kernels of session %s → %s: %w", sessionID, c.to, err)
	}
	return rows, nil
}

// releaseKernel returns a kernel's reserved slots to its agent, exactly once: the first call
// clears kernels.slots_reserved and subtracts occupied_slots from agent_slots; later calls
// find nothing reserved and change nothing. It reports whether it released anything.
func releaseKernel(ctx context.Context, tx pgx.Tx, kernelID uuid.UUID) (bool, error) {
	row, err := db.Q.KernelReleaseSlots(ctx, tx, kernelID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("release kernel %s: %w", kernelID, err)
	}
	if row.Agent == nil {
		return true, nil
	}
	var occupied map[string]string
	if len(row.OccupiedSlots) > 0 {
		if err := json.Unmarshal(row.OccupiedSlots, &occupied); err != nil {
			return false, fmt.Errorf("release kernel %s: occupied slots: %w", kernelID, err)
		}
	}
	for slot, v := range occupied {
		amount, err := decimal.NewFromString(v)
		if err != nil {
			return false, fmt.Errorf("release kernel %s: slot %s amount %q: %w", kernelID, slot, v, err)
		}
		if amount.IsZero() {
			continue
		}
		if err := db.Q.AgentSlotRelease(ctx, tx, &dbsqlc.AgentSlotReleaseParams{
			Amount: amount, AgentID: *row.Agent, Slot: slot,
		}); err != nil {
			return false, fmt.Errorf("release kernel %s: agent %s slot %s: %w", kernelID, *row.Agent, slot, err)
		}
	}
	return true, nil
}

// releaseSession releases the slots of every kernel of a session (each exactly once).
func releaseSession(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID) error {
	kernels, err := db.Q.KernelListBySession(ctx, tx, sessionID)
	if err != nil {
		return fmt.Errorf("list kernels of session %s: %w", sessionID, err)
	}
	for _, k := range kernels {
		if _, err := releaseKernel(ctx, tx, k.ID); err != nil {
			return err
		}
	}
	return nil
}

// lockSession locks a session's row for the rest of tx and returns its status. It returns
// "" and no error when the session does not exist.
func lockSession(ctx context.Context, tx pgx.Tx, id uuid.UUID) (string, error) {
	status, err := db.Q.SessionLockForLifecycle(ctx, tx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lock session %s: %w", id, err)
	}
	return status, nil
}

// sessionRef is what events name of a session.
type sessionRef struct {
	id, name, accessKey, domain, projectID, mainKernel string
}

// refOf returns the event fields of a transitioned session row.
func refOf(r *dbsqlc.SessionTransitionRow) sessionRef {
	return sessionRef{id: r.ID.String(), name: r.Name, accessKey: r.AccessKey, domain: r.DomainName, projectID: r.GroupID.String()}
}

// refOfSession returns the event fields of a loaded session row.
func refOfSession(r *dbsqlc.SessionGetForLifecycleRow) sessionRef {
	return sessionRef{id: r.ID.String(), name: r.Name, accessKey: r.AccessKey, domain: r.DomainName, projectID: r.GroupID.String()}
}

// sessionEvent returns a session event.
func (s sessionRef) sessionEvent(name, reason, status string, exitCode *int, at time.Time) events.Event {
	return events.Event{
		Name: name, SessionID: s.id, SessionName: s.name, KernelID: s.mainKernel, AccessKey: s.accessKey,
		Domain: s.domain, ProjectID: s.projectID, Reason: reason, ExitCode: exitCode, Status: status, Time: at,
	}
}

// kernelEvent returns a kernel event for kernel k of the session.
func (s sessionRef) kernelEvent(name string, k *dbsqlc.KernelTransitionRow, reason string, exitCode *int, at time.Time) events.Event {
	return events.Event{
		Name: name, SessionID: s.id, SessionName: s.name, KernelID: k.ID.String(), AccessKey: s.accessKey,
		Domain: s.domain, ProjectID: s.projectID, ClusterRole: k.ClusterRole, ClusterIdx: int(k.ClusterIdx),
		Reason: reason, ExitCode: exitCode, Time: at,
	}
}

// mainKernelOf returns the id of the main kernel among rows, or of the first one.
func mainKernelOf(rows []*dbsqlc.KernelTransitionRow) string {
	for _, r := range rows {
		if r.ClusterRole == "main" {
			return r.ID.String()
		}
	}
	if len(rows) > 0 {
		return rows[0].ID.String()
	}
	return ""
}

// publish sends evs, logging a failure: the state they describe is committed already.
func (h *Handlers) publish(ctx context.Context, evs ...events.Event) {
	if err := h.pub.Publish(ctx, evs...); err != nil {
		h.logger.Warn("publish session events", "error", err)
	}
}

// enqueue enqueues t, treating a TaskID conflict (already queued) as success.
func (h *Handlers) enqueue(ctx context.Context, t *asynq.Task, err error) error {
	if err != nil {
		return err
	}
	if _, err := h.enq.Enqueue(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	return nil
}
