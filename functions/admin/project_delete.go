package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteProject(s *functions.Server) {
	type input struct {
		ProjectParam
		Purge bool `query:"purge" default:"false" doc:"Delete the project for good, with its memberships and scaling group associations, instead of deactivating it."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-project", Method: http.MethodDelete, Path: "/admin/projects/{project_id}",
		Summary: "Delete a project",
		Description: "Deactivates the project (is_active false). With purge=true the project, its memberships and " +
			"scaling group associations are deleted for good; a project still referenced by sessions cannot be purged (400).",
		Tag: tag, Role: functions.Admin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		return nil, functions.FromService(s.AdminService().DeleteProject(ctx, svcCaller(ctx), in.id(), in.Purge))
	})
}
