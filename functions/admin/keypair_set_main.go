package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerSetMainKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "set-main-keypair", Method: http.MethodPost, Path: "/admin/keypairs/{access_key}/main",
		Summary: "Make a keypair its user's main access key",
		Description: "Makes the keypair the one its owner's requests are authenticated with; requests signed with the " +
			"previous main key are no longer authenticated. The keypair must be active (400 otherwise).",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *KeypairParam) (*keypairOutput, error) {
		id := caller(ctx)
		var out Keypair
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			row, err := db.Q.KeypairGetByAccessKey(ctx, tx, in.AccessKey)
			if err != nil {
				return err
			}
			if err := checkOwner(id, row.DomainName, row.Role); err != nil {
				return err
			}
			if !row.Keypair.IsActive {
				return functions.ErrInvalidAPIParams("An inactive keypair cannot be the main access key.", map[string]string{"access_key": in.AccessKey})
			}
			if _, err := db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{
				Uuid: row.Keypair.User, MainAccessKey: &row.Keypair.AccessKey,
			}); err != nil {
				return err
			}
			out = keypairFromRow(&row.Keypair, true, false)
			return nil
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return &keypairOutput{Body: out}, nil
	})
}
