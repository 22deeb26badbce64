package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteUserResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-user-resource-policy", Method: http.MethodDelete, Path: "/admin/user-resource-policies/{name}",
		Summary:     "Delete a user resource policy",
		Description: "Deletes a user resource policy. A policy still assigned to users cannot be deleted (400).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		n, err := db.Q.UserResourcePolicyDelete(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "user resource policy")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("user resource policy", "")
		}
		return nil, nil
	})
}
