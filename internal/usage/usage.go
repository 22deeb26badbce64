// Package usage recalculates resource usage from the database's own records: each agent
// slot's occupied amount must equal the sum of the occupied slots of the kernels that hold a
// reservation on it (kernels.slots_reserved). The periodic usage:recalculate job and
// POST /resource/recalculate-usage both call Recalculate, so there is one implementation.
//
// Per-keypair, per-user and per-project usage (concurrency, occupied slots) is not cached
// anywhere: the scheduler and the API compute it from the kernels table on every use, so it
// cannot drift and needs no correction.
package usage

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Correction is one agent slot whose recorded occupancy differed from its kernels'.
type Correction struct {
	AgentID  string          `json:"agent_id"`
	Slot     string          `json:"slot"`
	Recorded decimal.Decimal `json:"recorded"`
	Expected decimal.Decimal `json:"expected"`
}

// Orphan is a reservation on a slot the agent has no row for; it cannot be corrected here
// (the agent's next heartbeat creates the row) and is only reported.
type Orphan struct {
	AgentID string          `json:"agent_id"`
	Slot    string          `json:"slot"`
	Amount  decimal.Decimal `json:"amount"`
}

// Result is what a recalculation found and fixed.
type Result struct {
	Corrections []Correction `json:"corrections"`
	Orphans     []Orphan     `json:"orphans"`
}

// Recalculate locks every agent slot row (in a fixed order, so that schedule passes and
// releases wait rather than interleave), compares the recorded occupancy with the kernels'
// reservations and writes the expected amounts where they differ, in one transaction.
func Recalculate(ctx context.Context, pool *pgxpool.Pool) (*Result, error) {
	res := &Result{Corrections: []Correction{}, Orphans: []Orphan{}}
	err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		res.Corrections, res.Orphans = res.Corrections[:0], res.Orphans[:0]
		if err := db.Q.UsageLockAgentSlots(ctx, tx); err != nil {
			return fmt.Errorf("lock agent slots: %w", err)
		}
		drift, err := db.Q.UsageDrift(ctx, tx)
		if err != nil {
			return fmt.Errorf("compare occupancy: %w", err)
		}
		for _, d := range drift {
			if err := db.Q.UsageSetOccupied(ctx, tx, &dbsqlc.UsageSetOccupiedParams{
				Amount: d.Expected, AgentID: d.AgentID, Slot: d.Slot,
			}); err != nil {
				return fmt.Errorf("correct agent %s slot %s: %w", d.AgentID, d.Slot, err)
			}
			res.Corrections = append(res.Corrections, Correction{AgentID: d.AgentID, Slot: d.Slot, Recorded: d.Recorded, Expected: d.Expected})
		}
		orphans, err := db.Q.UsageMissingSlots(ctx, tx)
		if err != nil {
			return fmt.Errorf("list orphan reservations: %w", err)
		}
		for _, o := range orphans {
			res.Orphans = append(res.Orphans, Orphan{AgentID: o.AgentID, Slot: o.Slot, Amount: o.Amount})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recalculate usage: %w", db.Translate(err))
	}
	return res, nil
}

// Log writes one warning per correction and orphan to logger.
func (r *Result) Log(logger *slog.Logger) {
	for _, c := range r.Corrections {
		logger.Warn("agent occupancy corrected", "agent", c.AgentID, "slot", c.Slot,
			"recorded", c.Recorded.String(), "expected", c.Expected.String())
	}
	for _, o := range r.Orphans {
		logger.Warn("reservation on a slot the agent does not report", "agent", o.AgentID, "slot", o.Slot, "amount", o.Amount.String())
	}
}
