package lifecycle

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/events"
)

// MarkTerminating moves session sid, when it is in one of from, to TERMINATING with reason,
// and its kernels in one of kernelFrom with it, inside the caller's transaction. It returns
// whether the session moved and the session_terminating and kernel_terminating events to
// publish once the transaction commits: none when the session did not move, or was
// TERMINATING already (from is just TERMINATING: a forced destroy re-sending the work).
// The API's destroy and the idle reaper both end sessions through it.
func MarkTerminating(ctx context.Context, tx pgx.Tx, sid uuid.UUID, from, kernelFrom []string, reason string, now time.Time) (bool, []events.Event, error) {
	row, err := Session(ctx, tx, sid, Change{From: from, To: Terminating, Info: &reason}, now)
	if err != nil || row == nil {
		return false, nil, err
	}
	kernels, err := Kernels(ctx, tx, sid, nil, Change{From: kernelFrom, To: Terminating, Info: &reason}, now)
	if err != nil {
		return false, nil, err
	}
	if len(from) == 1 && from[0] == Terminating {
		return true, nil, nil
	}
	ref := RefOf(row)
	ref.MainKernel = MainKernelOf(kernels)
	evs := make([]events.Event, 0, 1+len(kernels))
	evs = append(evs, ref.SessionEvent(events.SessionTerminating, reason, Terminating, nil, now))
	for _, k := range kernels {
		evs = append(evs, ref.KernelEvent(events.KernelTerminating, k, reason, nil, now))
	}
	return true, evs, nil
}
