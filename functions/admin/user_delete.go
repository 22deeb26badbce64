package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteUser(s *functions.Server) {
	type input struct {
		UserParam
		Purge bool `query:"purge" default:"false" doc:"Delete the user for good, with their keypairs and memberships, instead of marking them deleted."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-user", Method: http.MethodDelete, Path: "/admin/users/{user}",
		Summary: "Delete a user",
		Description: "Marks the user deleted (status deleted) and deactivates all their keypairs. With purge=true the " +
			"user, their ended sessions, keypairs and project memberships are deleted for good; a user with sessions " +
			"still running cannot be purged (400). Callers cannot delete themselves (400). Superadmins only.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		return nil, functions.FromService(s.AdminService().DeleteUser(ctx, svcCaller(ctx), in.User, in.Purge))
	})
}
