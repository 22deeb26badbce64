package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ReleaseKernel returns a kernel's reserved slots to its agent, exactly once: the first call
// clears kernels.slots_reserved and subtracts occupied_slots from agent_slots; later calls
// find nothing reserved and change nothing. It reports whether it released anything.
func ReleaseKernel(ctx context.Context, tx pgx.Tx, kernelID uuid.UUID) (bool, error) {
	row, err := db.Q.KernelReleaseSlots(ctx, tx, kernelID)
	if err != nil {
		if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
			return false, nil
		}
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

// ReleaseSession releases the slots of every kernel of a session (each exactly once).
func ReleaseSession(ctx context.Context, tx pgx.Tx, sessionID uuid.UUID) error {
	kernels, err := db.Q.KernelListBySession(ctx, tx, sessionID)
	if err != nil {
		return fmt.Errorf("list kernels of session %s: %w", sessionID, err)
	}
	for _, k := range kernels {
		if _, err := ReleaseKernel(ctx, tx, k.ID); err != nil {
			return err
		}
	}
	return nil
}
