package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
)

// BeginRestart moves a RUNNING session and its RUNNING kernels to RESTARTING, with
// status_info "restarting" and the status_data of an earlier restart cleared. It reports
// false, changing nothing, when the session is not RUNNING.
func BeginRestart(ctx context.Context, tx pgx.Tx, sid uuid.UUID, now time.Time) (bool, error) {
	row, err := Session(ctx, tx, sid, Change{
		From: []string{Running}, To: Restarting, Info: Str(ReasonRestarting), Data: map[string]any{},
	}, now)
	if err != nil || row == nil {
		return false, err
	}
	if _, err := Kernels(ctx, tx, sid, nil, Change{From: []string{Running}, To: Restarting}, now); err != nil {
		return false, err
	}
	return true, nil
}

// KernelRestart is what an agent answered to the restart of one kernel.
type KernelRestart struct {
	// KernelID is the kernel.
	KernelID uuid.UUID
	// ContainerID is the container the kernel runs in now, when the agent reported one.
	ContainerID string
	// Gone says the agent no longer has the kernel: it ends in ERROR.
	Gone bool
	// Err is the agent's error message, empty when the kernel restarted.
	Err string
	// ErrName names the kind of error for status_data.
	ErrName string
}

// EndRestart ends the restart of a RESTARTING session (locking its row in tx) with the
// agents' answers: a kernel the agent no longer has becomes ERROR (status_info
// kernel-restart-failed) and its slots are released; the other RESTARTING kernels become
// RUNNING. The session becomes ERROR when a kernel is gone; otherwise RUNNING, with
// status_info kernel-restart-failed and the error in status_data when a restart failed, or
// an empty status_info when all succeeded. It returns the events to publish after commit:
// kernel_terminated for the gone kernels, session_started when the session runs again.
// A session that is not RESTARTING (it was destroyed meanwhile) is left alone.
func EndRestart(ctx context.Context, tx pgx.Tx, sid uuid.UUID, results []KernelRestart, now time.Time) ([]events.Event, error) {
	if status, err := LockSession(ctx, tx, sid); err != nil || status != Restarting {
		return nil, err
	}
	sess, err := db.Q.SessionGetForLifecycle(ctx, tx, sid)
	if err != nil {
		return nil, fmt.Errorf("load session %s: %w", sid, db.Translate(err))
	}
	if sess.Status != Restarting {
		return nil, nil
	}
	ref := RefOfSession(sess)
	var (
		failure *KernelRestart
		evs     []events.Event
		gone    bool
	)
	for i := range results {
		r := &results[i]
		if r.Err != "" && (failure == nil || r.Gone && !failure.Gone) {
			failure = r
		}
		if !r.Gone {
			if r.ContainerID != "" {
				if err := db.Q.KernelContainerIDSet(ctx, tx, &dbsqlc.KernelContainerIDSetParams{
					ContainerID: &r.ContainerID, ID: r.KernelID,
				}); err != nil {
					return nil, fmt.Errorf("record container of kernel %s: %w", r.KernelID, err)
				}
			}
			continue
		}
		gone = true
		ks, err := Kernels(ctx, tx, sid, &r.KernelID, Change{
			From: []string{Restarting}, To: Error, Info: Str(ReasonKernelRestartFailed), Data: errorData(r),
		}, now)
		if err != nil {
			return nil, err
		}
		if _, err := ReleaseKernel(ctx, tx, r.KernelID); err != nil {
			return nil, err
		}
		for _, k := range ks {
			evs = append(evs, ref.KernelEvent(events.KernelTerminated, k, ReasonKernelRestartFailed, nil, now))
		}
	}
	ks, err := Kernels(ctx, tx, sid, nil, Change{From: []string{Restarting}, To: Running}, now)
	if err != nil {
		return nil, err
	}
	ref.MainKernel = MainKernelOf(ks)
	c := Change{From: []string{Restarting}, To: Running, Info: Str(""), Data: map[string]any{}}
	switch {
	case gone:
		c.To, c.Info, c.Data = Error, Str(ReasonKernelRestartFailed), errorData(failure)
	case failure != nil:
		c.Info, c.Data = Str(ReasonKernelRestartFailed), errorData(failure)
	}
	row, err := Session(ctx, tx, sid, c, now)
	if err != nil || row == nil {
		return evs, err
	}
	if c.To == Running {
		evs = append(evs, ref.SessionEvent(events.SessionStarted, "", Running, nil, now))
	}
	return evs, nil
}

// errorData is the status_data of a failed restart.
func errorData(r *KernelRestart) map[string]any {
	return map[string]any{"error": map[string]any{"src": "agent", "name": r.ErrName, "repr": r.Err}}
}
