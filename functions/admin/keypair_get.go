package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerGetKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-keypair", Method: http.MethodGet, Path: "/admin/keypairs/{access_key}",
		Summary:     "Get a keypair",
		Description: "Returns one keypair; the secret key only when the caller owns it. Domain admins see keypairs of their own domain's users.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *KeypairParam) (*keypairOutput, error) {
		id := caller(ctx)
		row, err := loadKeypair(ctx, s.Deps().Pool, id, in.AccessKey)
		if err != nil {
			return nil, err
		}
		owner := row.Keypair.User == id.UserUUID()
		return &keypairOutput{Body: keypairFromRow(&row.Keypair, row.IsMain, owner)}, nil
	})
}
