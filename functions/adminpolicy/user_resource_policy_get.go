package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetUserResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-user-resource-policy", Method: http.MethodGet, Path: "/admin/user-resource-policies/{name}",
		Summary:     "Get a user resource policy",
		Description: "Returns one user resource policy.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*userResourcePolicyOutput, error) {
		row, err := db.Q.UserResourcePolicyGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "user resource policy")
		}
		return &userResourcePolicyOutput{Body: userResourcePolicyFromRow(row)}, nil
	})
}
