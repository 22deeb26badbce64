package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerSetMainKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "set-main-keypair", Method: http.MethodPost, Path: "/admin/keypairs/{access_key}/main",
		Summary: "Make a keypair its user's main access key",
		Description: "Makes the keypair the one its owner's requests are authenticated with; requests signed with the " +
			"previous main key are no longer authenticated. The keypair must be active (400 otherwise). " +
			"Superadmins only.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *KeypairParam) (*keypairOutput, error) {
		kp, err := s.AdminService().SetMainKeypair(ctx, svcCaller(ctx), in.AccessKey)
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &keypairOutput{Body: keypairFromRow(kp.Keypair, kp.IsMain, false)}, nil
	})
}
