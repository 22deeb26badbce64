package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/kernelstat"
)

// EndKernel ends live kernel kid of session sid as TERMINATED with reason (ReasonSelfTerminated
// when empty), inside the caller's transaction, which holds the session's row lock (ref holds
// the session's event fields). With an exit code the kernel's result is SUCCESS for 0 and
// FAILURE otherwise; without one (a destroyed kernel, an agent lost) it has none. The kernel's
// slots are released (exactly once), and when it was the session's last live kernel the
// session ends too: session_success or session_failure when exit codes are known, then
// session_terminated. It returns the events to publish once the transaction commits: none
// for a kernel already ended (a duplicate or late report). An agent's terminated event and
// the sweeps that end kernels on lost or out-of-sync agents all end kernels through it. The
// kernel keeps its last statistics in last_stat (see RecordLastStats).
func EndKernel(ctx context.Context, tx pgx.Tx, ref Ref, sid, kid uuid.UUID, reason string, exitCode *int, now time.Time) ([]events.Event, error) {
	if reason == "" {
		reason = ReasonSelfTerminated
	}
	c := Change{From: LiveKernel, To: Terminated, Info: Str(reason)}
	if exitCode != nil {
		if *exitCode == 0 {
			c.Result = Str(ResultSuccess)
		} else {
			c.Result = Str(ResultFailure)
		}
	}
	ks, err := Kernels(ctx, tx, sid, &kid, c, now)
	if err != nil || len(ks) == 0 {
		return nil, err
	}
	if _, err := ReleaseKernel(ctx, tx, kid); err != nil {
		return nil, err
	}
	evs := []events.Event{ref.KernelEvent(events.KernelTerminated, ks[0], reason, exitCode, now)}
	left, err := db.Q.KernelCountUnfinished(ctx, tx, sid)
	if err != nil {
		return nil, fmt.Errorf("count live kernels: %w", err)
	}
	if left > 0 {
		return evs, nil
	}
	sc := Change{From: append([]string{Scheduled}, StartedSession...), To: Terminated, Info: Str(reason)}
	var resultEvent string
	if exitCode != nil {
		failed, err := db.Q.KernelResultSummary(ctx, tx, sid)
		if err != nil {
			return nil, fmt.Errorf("session result: %w", err)
		}
		if failed {
			sc.Result, resultEvent = Str(ResultFailure), events.SessionFailure
		} else {
			sc.Result, resultEvent = Str(ResultSuccess), events.SessionSuccess
		}
	}
	row, err := Session(ctx, tx, sid, sc, now)
	if err != nil || row == nil {
		return evs, err
	}
	sref := RefOf(row)
	sref.MainKernel = ref.MainKernel
	if sref.MainKernel == "" {
		sref.MainKernel = kid.String()
	}
	if resultEvent != "" {
		evs = append(evs, sref.SessionEvent(resultEvent, reason, Terminated, exitCode, now))
	}
	evs = append(evs, sref.SessionEvent(events.SessionTerminated, reason, Terminated, exitCode, now))
	return evs, nil
}

// InSession runs f in a transaction on b that holds session sid's row lock, with the
// session's event fields, and returns the events f made (to publish after commit). For a
// session that does not exist it runs nothing.
func InSession(ctx context.Context, b db.Beginner, sid uuid.UUID, f func(tx pgx.Tx, ref Ref) ([]events.Event, error)) ([]events.Event, error) {
	var evs []events.Event
	err := db.InTx(ctx, b, func(tx pgx.Tx) error {
		status, err := LockSession(ctx, tx, sid)
		if err != nil || status == "" {
			return err
		}
		sess, err := db.Q.SessionGetForLifecycle(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		evs, err = f(tx, RefOfSession(sess))
		return err
	})
	return evs, err
}

// RecordLastStats stores, in kernels.last_stat, the last statistics of the kernels of ids
// (Backend.AI's stat format, internal/kernelstat) built from the latest utilization sample
// their agents reported; a kernel without a sample keeps what it had. Kernels calls it for
// every kernel that becomes TERMINATED, inside the same transaction, so that every way a
// kernel ends (its agent's terminated event, a destroy, the sweeps) records it once.
func RecordLastStats(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := db.Q.KernelLatestSamples(ctx, tx, ids)
	if err != nil {
		return fmt.Errorf("latest utilization samples: %w", err)
	}
	stats := map[string]map[string]any{}
	for _, r := range rows {
		if st := kernelstat.FromSample(r.Metrics, r.OccupiedSlots); st != nil {
			stats[r.ID.String()] = st
		}
	}
	if len(stats) == 0 {
		return nil
	}
	b, err := json.Marshal(stats)
	if err != nil {
		return fmt.Errorf("encode last statistics: %w", err)
	}
	if err := db.Q.KernelSetLastStats(ctx, tx, b); err != nil {
		return fmt.Errorf("store last statistics: %w", err)
	}
	return nil
}
