package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-keypair", Method: http.MethodDelete, Path: "/admin/keypairs/{access_key}",
		Summary: "Delete a keypair",
		Description: "Deletes a keypair for good. A user's main access key cannot be deleted (400): make another " +
			"keypair the main one first. A keypair still referenced by sessions cannot be deleted either (400). " +
			"Superadmins only.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *KeypairParam) (*noContent, error) {
		return nil, functions.FromService(s.AdminService().DeleteKeypair(ctx, svcCaller(ctx), in.AccessKey))
	})
}
