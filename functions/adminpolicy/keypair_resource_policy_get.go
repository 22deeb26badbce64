package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetKeypairResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-keypair-resource-policy", Method: http.MethodGet, Path: "/admin/keypair-resource-policies/{name}",
		Summary:     "Get a keypair resource policy",
		Description: "Returns one keypair resource policy.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*keypairResourcePolicyOutput, error) {
		row, err := db.Q.KeypairResourcePolicyGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "keypair resource policy")
		}
		p, err := keypairResourcePolicyFromRow(row)
		if err != nil {
			return nil, err
		}
		return &keypairResourcePolicyOutput{Body: p}, nil
	})
}
