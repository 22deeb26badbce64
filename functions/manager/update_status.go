package manager

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// statusKey is the shared configuration key holding the manager status.
const statusKey = "manager/status"

type managerStatusUpdateInput struct {
	Body struct {
		Status    string `json:"status" enum:"running,frozen,terminated,preparing" doc:"New status: frozen refuses writes with 503 server-frozen, running accepts them again. terminated and preparing are legacy values that refuse writes with 503 service-unavailable." example:"frozen"`
		ForceKill bool   `json:"force_kill,omitempty" doc:"Also kill every session on the live agents (Backend.AI's freeze --force-kill). Accepted; Hangar has no sessions to kill yet." example:"false"`
	}
}

func registerUpdateStatus(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-manager-status", Method: http.MethodPut, Path: "/manager/status", Tag: tag,
		Summary: "Freeze or unfreeze the manager",
		Description: "Sets the manager status for every API process (etcd key manager/status). While frozen, " +
			"operations that change state answer 503 server-frozen; reads keep working. The change applies to the " +
			"answering process before the response is sent. Works while frozen.",
		Role: functions.Superadmin, Status: http.StatusNoContent, Params: true,
	}), func(ctx context.Context, in *managerStatusUpdateInput) (*struct{}, error) {
		d := s.Deps()
		status := in.Body.Status
		if in.Body.ForceKill {
			d.Log().Info("manager status: force_kill requested, but there are no sessions to kill",
				"status", status, "request_id", functions.RequestID(ctx))
		}
		if err := d.Etcd.Put(ctx, statusKey, status); err != nil {
			return nil, fmt.Errorf("set manager status: %w", err)
		}
		if !waitApplied(ctx, func() bool { return d.Shared.ManagerStatus() == status }) {
			d.Log().Warn("manager status written but not yet visible in the shared configuration",
				"status", status, "request_id", functions.RequestID(ctx))
		}
		d.Log().Info("manager status changed", "status", status, "request_id", functions.RequestID(ctx))
		return nil, nil
	})
}
