package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteProjectResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-project-resource-policy", Method: http.MethodDelete, Path: "/admin/project-resource-policies/{name}",
		Summary:     "Delete a project resource policy",
		Description: "Deletes a project resource policy. A policy still assigned to projects cannot be deleted (400).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		n, err := db.Q.ProjectResourcePolicyDelete(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "project resource policy")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("project resource policy", "")
		}
		return nil, nil
	})
}
