package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteKeypairResourcePolicy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-keypair-resource-policy", Method: http.MethodDelete, Path: "/admin/keypair-resource-policies/{name}",
		Summary:     "Delete a keypair resource policy",
		Description: "Deletes a keypair resource policy. A policy still assigned to keypairs cannot be deleted (400).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		if err := s.AdminService().DeleteKeypairResourcePolicy(ctx, svcCaller(ctx), in.Name); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
