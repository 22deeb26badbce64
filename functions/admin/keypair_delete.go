package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteKeypair(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-keypair", Method: http.MethodDelete, Path: "/admin/keypairs/{access_key}",
		Summary: "Delete a keypair",
		Description: "Deletes a keypair for good. A user's main access key cannot be deleted (400): make another " +
			"keypair the main one first. A keypair still referenced by sessions cannot be deleted either (400).",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *KeypairParam) (*noContent, error) {
		id := caller(ctx)
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			row, err := db.Q.KeypairGetByAccessKey(ctx, tx, in.AccessKey)
			if err != nil {
				return err
			}
			if err := checkOwner(id, row.DomainName, row.Role); err != nil {
				return err
			}
			n, err := db.Q.KeypairDelete(ctx, tx, in.AccessKey)
			if err != nil {
				return err
			}
			if n == 0 || row.IsMain {
				return functions.ErrInvalidAPIParams("The keypair is its user's main access key; make another keypair the main one first.",
					map[string]string{"access_key": in.AccessKey})
			}
			return nil
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return nil, nil
	})
}
