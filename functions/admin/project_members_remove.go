package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerRemoveProjectMembers(s *functions.Server) {
	type input struct {
		ProjectParam
		Body ProjectMembersChange
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "remove-project-members", Method: http.MethodDelete, Path: "/admin/projects/{project_id}/members",
		Summary: "Remove project members",
		Description: "Ends the membership of the users given (JSON body on DELETE); users who are not members are " +
			"ignored. Unknown users are 404 and nothing changes.",
		Tag: tag, Role: functions.Admin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		return nil, functions.FromService(s.AdminService().RemoveProjectMembers(ctx, svcCaller(ctx), in.id(), in.Body.members()))
	})
}
