package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetMyKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-my-keypair", Method: http.MethodGet, Path: "/keypairs/me",
		Summary:     "Get the caller's keypair",
		Description: "Returns the keypair the request was signed with, secret key included: the caller owns it (as Backend.AI's keypair query does).",
		Tag:         tag, Role: functions.User, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, _ *struct{}) (*keypairOutput, error) {
		id := caller(ctx)
		row, err := db.Q.KeypairGetByAccessKey(ctx, s.Deps().Pool, id.AccessKey)
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return &keypairOutput{Body: keypairFromRow(&row.Keypair, row.IsMain, true)}, nil
	})
}
