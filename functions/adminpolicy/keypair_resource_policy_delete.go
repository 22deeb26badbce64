package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteKeypairResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-keypair-resource-policy", Method: http.MethodDelete, Path: "/admin/keypair-resource-policies/{name}",
		Summary:     "Delete a keypair resource policy",
		Description: "Deletes a keypair resource policy. A policy still assigned to keypairs cannot be deleted (400).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		n, err := db.Q.KeypairResourcePolicyDelete(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "keypair resource policy")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("keypair resource policy", "")
		}
		return nil, nil
	})
}
