package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetProjectResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-project-resource-policy", Method: http.MethodGet, Path: "/admin/project-resource-policies/{name}",
		Summary:     "Get a project resource policy",
		Description: "Returns one project resource policy.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*projectResourcePolicyOutput, error) {
		row, err := db.Q.ProjectResourcePolicyGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "project resource policy")
		}
		return &projectResourcePolicyOutput{Body: projectResourcePolicyFromRow(row)}, nil
	})
}
