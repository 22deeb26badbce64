package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// The batch changes below are the single-row changes of change.go over many sessions at
// once: one statement each, guarded by the same expected statuses and transition table.

// ClaimStart moves to PREPARING, in one statement, the sessions of ids that are SCHEDULED or
// that have been PREPARING since before preparingBefore (whoever started them may have
// died), and returns them. A session whose row another transaction holds is left out: that
// transaction is starting or ending it. Two claims of one session thus never both get it,
// unless it was PREPARING for longer than the caller allows.
func ClaimStart(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, preparingBefore, now time.Time) ([]*dbsqlc.SessionClaimStartRow, error) {
	c := Change{From: []string{Scheduled, Preparing}, To: Preparing}
	if err := c.check(SessionAllowed, "session"); err != nil {
		return nil, err
	}
	rows, err := db.Q.SessionClaimStart(ctx, tx, &dbsqlc.SessionClaimStartParams{
		Now: now, Iso: FormatTime(now), IDs: ids, PreparingBefore: preparingBefore,
	})
	if err != nil {
		return nil, fmt.Errorf("claim %d sessions for start: %w", len(ids), db.Translate(err))
	}
	return rows, nil
}

// LockSessions locks, in id order (so that two callers never deadlock), the sessions of ids
// whose status is one of statuses for the rest of tx, and returns their ids.
func LockSessions(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, statuses []string) ([]uuid.UUID, error) {
	locked, err := db.Q.SessionLockMany(ctx, tx, &dbsqlc.SessionLockManyParams{IDs: ids, Statuses: statuses})
	if err != nil {
		return nil, fmt.Errorf("lock %d sessions: %w", len(ids), db.Translate(err))
	}
	return locked, nil
}

// SessionsMany applies c to the sessions of ids that are in one of c.From, recording
// status_history[c.To] = FormatTime(now), and returns those it changed.
func SessionsMany(ctx context.Context, tx pgx.Tx, ids []uuid.UUID, c Change, now time.Time) ([]*dbsqlc.SessionTransitionManyRow, error) {
	data, err := c.prepare(SessionAllowed, "session")
	if err != nil {
		return nil, err
	}
	rows, err := db.Q.SessionTransitionMany(ctx, tx, &dbsqlc.SessionTransitionManyParams{
		ToStatus: c.To, Now: now, StatusInfo: c.Info, StatusData: data, Iso: FormatTime(now),
		Result: c.Result, IDs: ids, FromStatuses: c.From,
	})
	if err != nil {
		return nil, fmt.Errorf("%d sessions → %s: %w", len(ids), c.To, db.Translate(err))
	}
	return rows, nil
}

// KernelsMany applies c to the kernels of the sessions of sessionIDs that are in one of
// c.From, and returns those it changed.
func KernelsMany(ctx context.Context, tx pgx.Tx, sessionIDs []uuid.UUID, c Change, now time.Time) ([]*dbsqlc.KernelTransitionManyRow, error) {
	data, err := c.prepare(KernelAllowed, "kernel")
	if err != nil {
		return nil, err
	}
	rows, err := db.Q.KernelTransitionMany(ctx, tx, &dbsqlc.KernelTransitionManyParams{
		ToStatus: c.To, Now: now, StatusInfo: c.Info, StatusData: data, Iso: FormatTime(now),
		Result: c.Result, SessionIds: sessionIDs, FromStatuses: c.From,
	})
	if err != nil {
		return nil, fmt.Errorf("kernels of %d sessions → %s: %w", len(sessionIDs), c.To, db.Translate(err))
	}
	return rows, nil
}

// KernelRow returns the single-session transition row of a batch one, for KernelEvent.
func KernelRow(r *dbsqlc.KernelTransitionManyRow) *dbsqlc.KernelTransitionRow {
	return &dbsqlc.KernelTransitionRow{ID: r.ID, ClusterRole: r.ClusterRole, ClusterIdx: r.ClusterIdx}
}

// RefOfClaimed returns the event fields of a session claimed by ClaimStart.
func RefOfClaimed(r *dbsqlc.SessionClaimStartRow) Ref {
	return Ref{ID: r.ID.String(), Name: r.Name, AccessKey: r.AccessKey, Domain: r.DomainName, ProjectID: r.GroupID.String()}
}
