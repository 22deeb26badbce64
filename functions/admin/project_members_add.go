package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerAddProjectMembers(s *functions.Server) {
	type input struct {
		ProjectParam
		Body ProjectMembersChange
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "add-project-members", Method: http.MethodPost, Path: "/admin/projects/{project_id}/members",
		Summary: "Add project members",
		Description: "Makes the users given members of the project; users who already are stay so. The users must " +
			"belong to the project's domain (400 otherwise); unknown users are 404 and nothing changes.",
		Tag: tag, Role: functions.Admin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		return nil, functions.FromService(s.AdminService().AddProjectMembers(ctx, svcCaller(ctx), in.id(), in.Body.members()))
	})
}
