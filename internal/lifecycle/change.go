package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ErrNotAllowed is returned for a change the transition table does not allow.
var ErrNotAllowed = errors.New("status transition not allowed")

// Change describes one guarded status transition.
type Change struct {
	// From are the statuses the row may be in; the change does nothing otherwise.
	From []string
	// To is the new status.
	To string
	// Info, when set, replaces status_info.
	Info *string
	// Data, when set, replaces status_data (encoded as JSON).
	Data any
	// Result, when set, replaces result.
	Result *string
}

// Str returns a pointer to s, for Change.Info and Change.Result.
func Str(s string) *string { return &s }

// check refuses a change that names a source status the table does not allow to reach To.
func (c *Change) check(allowed func(from, to string) bool, what string) error {
	for _, from := range c.From {
		if !allowed(from, c.To) {
			return fmt.Errorf("%w: %s %s → %s", ErrNotAllowed, what, from, c.To)
		}
	}
	return nil
}

// prepare checks c against allowed (see check) and returns its data as JSON (see encodeData).
func (c *Change) prepare(allowed func(from, to string) bool, what string) (json.RawMessage, error) {
	if err := c.check(allowed, what); err != nil {
		return nil, err
	}
	return c.encodeData()
}

// encodeData returns c.Data as JSON, or nil when unset.
func (c *Change) encodeData() (json.RawMessage, error) {
	if c.Data == nil {
		return nil, nil
	}
	b, err := json.Marshal(c.Data)
	if err != nil {
		return nil, fmt.Errorf("encode status data: %w", err)
	}
	return b, nil
}

// Session applies c to session id at now, recording status_history[c.To] = FormatTime(now).
// It returns nil and no error when the session is not in one of c.From.
func Session(ctx context.Context, tx pgx.Tx, id uuid.UUID, c Change, now time.Time) (*dbsqlc.SessionTransitionRow, error) {
	data, err := c.prepare(SessionAllowed, "session")
	if err != nil {
		return nil, err
	}
	row, err := db.Q.SessionTransition(ctx, tx, &dbsqlc.SessionTransitionParams{
		ToStatus: c.To, Now: now, StatusInfo: c.Info, StatusData: data, Iso: FormatTime(now),
		Result: c.Result, ID: id, FromStatuses: c.From,
	})
	if err != nil {
		if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("session %s → %s: %w", id, c.To, err)
	}
	return row, nil
}

// Kernels applies c to the kernels of session sessionID (only kernel kernelID when not nil)
// that are in one of c.From, and returns those it changed.
func Kernels(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID, kernelID *uuid.UUID, c Change, now time.Time) ([]*dbsqlc.KernelTransitionRow, error) {
	data, err := c.prepare(KernelAllowed, "kernel")
	if err != nil {
		return nil, err
	}
	rows, err := db.Q.KernelTransition(ctx, tx, &dbsqlc.KernelTransitionParams{
		ToStatus: c.To, Now: now, StatusInfo: c.Info, StatusData: data, Iso: FormatTime(now),
		Result: c.Result, SessionID: sessionID, KernelID: kernelID, FromStatuses: c.From,
	})
	if err != nil {
		return nil, fmt.Errorf("kernels of session %s → %s: %w", sessionID, c.To, db.Translate(err))
	}
	if c.To == Terminated && len(rows) > 0 {
		ids := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		if err := RecordLastStats(ctx, tx, ids); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// LockSession locks a session's row for the rest of tx and returns its status. It returns
// "" and no error when the session does not exist.
func LockSession(ctx context.Context, tx pgx.Tx, id uuid.UUID) (string, error) {
	status, err := db.Q.SessionLockForLifecycle(ctx, tx, id)
	if err != nil {
		if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("lock session %s: %w", id, err)
	}
	return status, nil
}
