package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteResourcePreset(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-resource-preset", Method: http.MethodDelete, Path: "/admin/resource-presets/{name}",
		Summary:     "Delete a resource preset",
		Description: "Deletes a resource preset.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		if err := s.AdminService().DeleteResourcePreset(ctx, svcCaller(ctx), in.Name); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
