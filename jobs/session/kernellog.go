package session

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// maxLogWait bounds the agent call that reads a kernel's log before the kernel goes away.
const maxLogWait = 2 * time.Second

// storeKernelLog copies a kernel's log from its agent into kernels.container_log, so that it
// can be read once the kernel is gone. It is best effort: a failure is logged only.
func (h *Handlers) storeKernelLog(ctx context.Context, addr string, kernelID uuid.UUID) {
	if addr == "" {
		return
	}
	c, err := h.rpc.Get(addr)
	if err != nil {
		h.Logger.Warn("kernel log not kept: agent unreachable", "kernel", kernelID, "agent", addr, "error", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, min(h.rpcTimeout, maxLogWait))
	defer cancel()
	rep, err := c.GetLogs(cctx, &agentrpc.GetLogsRequest{KernelID: kernelID.String()})
	if err != nil || rep == nil {
		h.Logger.Warn("kernel log not kept", "kernel", kernelID, "agent", addr, "error", err)
		return
	}
	if err := db.Q.KernelContainerLogSet(ctx, h.Pool, &dbsqlc.KernelContainerLogSetParams{
		ContainerLog: []byte(rep.Logs), ID: kernelID,
	}); err != nil {
		h.Logger.Warn("kernel log not kept", "kernel", kernelID, "error", err)
	}
}

// storeExitedKernelLog keeps the log of a kernel that ended by itself, read from the agent
// that still has it.
func (h *Handlers) storeExitedKernelLog(ctx context.Context, kernelID uuid.UUID) {
	addr, err := db.Q.KernelAgentAddrGet(ctx, h.Pool, kernelID)
	if err != nil {
		h.Logger.Warn("kernel log not kept", "kernel", kernelID, "error", err)
		return
	}
	if addr != nil {
		h.storeKernelLog(ctx, *addr, kernelID)
	}
}
