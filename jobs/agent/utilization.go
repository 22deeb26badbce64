package agent

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/jobs"
)

// storeUtilization keeps the kernel utilization a heartbeat carries, for the utilization
// idle checker (jobs/idle), in one statement on the heartbeat's transaction tx: a sample per
// kernel at the heartbeat's time, only for the agent's RUNNING kernels. A redelivered
// heartbeat stores nothing twice. A failure is logged only (the statement runs in a
// savepoint, so the heartbeat still commits): the next heartbeat brings new samples.
func (h *Handlers) storeUtilization(ctx context.Context, tx pgx.Tx, logger *slog.Logger, p *jobs.AgentHeartbeatPayload) {
	if len(p.Utilization) == 0 {
		return
	}
	samples := make(map[string]jobs.KernelUtilization, len(p.Utilization))
	for id, u := range p.Utilization {
		if _, err := uuid.Parse(id); err != nil || u == (jobs.KernelUtilization{}) {
			continue
		}
		samples[id] = u
	}
	if len(samples) == 0 {
		return
	}
	b, err := json.Marshal(samples)
	if err != nil {
		logger.Warn("utilization samples not stored", "err", err)
		return
	}
	if err := db.InTx(ctx, tx, func(sp pgx.Tx) error {
		_, err := db.Q.KernelUtilizationInsert(ctx, sp, &dbsqlc.KernelUtilizationInsertParams{
			At: p.Time, Samples: b, AgentID: p.AgentID,
		})
		return err
	}); err != nil {
		logger.Warn("utilization samples not stored", "err", err)
	}
}
