package session

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/kernelstat"
)

// lastStat is the main kernel's last resource statistics in Backend.AI's format (version 2,
// what `backend.ai run -s` prints), built by internal/kernelstat from the latest utilization
// sample its agent reported and the kernel's slots. nil when no sample was reported.
func lastStat(ctx context.Context, s *functions.Server, sid uuid.UUID) (map[string]any, error) {
	row, err := db.Q.SessionMainKernelLastSample(ctx, s.Deps().Pool, sid)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, functions.FromDB(err, "session")
	}
	return kernelstat.FromSample(row.Metrics, row.OccupiedSlots), nil
}
