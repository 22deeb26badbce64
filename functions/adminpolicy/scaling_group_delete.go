package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteScalingGroup(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-scaling-group", Method: http.MethodDelete, Path: "/admin/scaling-groups/{name}",
		Summary: "Delete a scaling group",
		Description: "Deletes a scaling group with its domain, project and keypair associations. A group with agents " +
			"registered in it, or still referred to by sessions, cannot be deleted (400).",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *ScalingGroupParam) (*deleteOutput, error) {
		if err := s.AdminService().DeleteScalingGroup(ctx, svcCaller(ctx), in.Name); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
