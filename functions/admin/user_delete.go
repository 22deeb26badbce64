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

func registerDeleteUser(s *functions.Server) {
	type input struct {
		UserParam
		Purge bool `query:"purge" default:"false" doc:"Delete the user for good, with their keypairs and memberships, instead of marking them deleted."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-user", Method: http.MethodDelete, Path: "/admin/users/{user}",
		Summary: "Delete a user",
		Description: "Marks the user deleted (status deleted) and deactivates all their keypairs. With purge=true the " +
			"user, their keypairs and project memberships are deleted for good; a user still referenced by sessions " +
			"cannot be purged (400). Callers cannot delete themselves (400). Domain admins delete users of their own " +
			"domain only, never superadmins.",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		id := caller(ctx)
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			u, err := lookupUser(ctx, tx, in.User)
			if err != nil {
				return err
			}
			if err := checkUser(id, u); err != nil {
				return err
			}
			if u.Uuid == id.UserUUID() {
				return functions.ErrInvalidAPIParams("You cannot delete yourself.", map[string]string{"user": in.User})
			}
			if in.Purge {
				if err := db.Q.UserClearMainAccessKey(ctx, tx, u.Uuid); err != nil {
					return err
				}
				_, err := db.Q.UserDelete(ctx, tx, u.Uuid)
				return err
			}
			status, info := dbsqlc.UserStatusDeleted, statusInfoAdmin
			if _, err := db.Q.UserUpdate(ctx, tx, &dbsqlc.UserUpdateParams{Uuid: u.Uuid, Status: &status, StatusInfo: &info}); err != nil {
				return err
			}
			return db.Q.KeypairSetActiveByUser(ctx, tx, &dbsqlc.KeypairSetActiveByUserParams{UserUuid: u.Uuid, IsActive: false})
		})
		if err != nil {
			return nil, functions.FromDB(err, "user")
		}
		return nil, nil
	})
}
