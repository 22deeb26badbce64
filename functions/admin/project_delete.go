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

func registerDeleteProject(s *functions.Server) {
	type input struct {
		ProjectParam
		Purge bool `query:"purge" default:"false" doc:"Delete the project for good, with its memberships and scaling group associations, instead of deactivating it."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-project", Method: http.MethodDelete, Path: "/admin/projects/{project_id}",
		Summary: "Delete a project",
		Description: "Deactivates the project (is_active false). With purge=true the project, its memberships and " +
			"scaling group associations are deleted for good; a project still referenced by sessions cannot be purged (400).",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		id := caller(ctx)
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			row, err := db.Q.GroupLock(ctx, tx, in.id())
			if err != nil {
				return err
			}
			if err := checkDomain(id, row.DomainName); err != nil {
				return err
			}
			if in.Purge {
				_, err = db.Q.GroupDelete(ctx, tx, row.ID)
				return err
			}
			inactive := false
			_, err = db.Q.GroupUpdate(ctx, tx, &dbsqlc.GroupUpdateParams{ID: row.ID, IsActive: &inactive})
			return err
		})
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		return nil, nil
	})
}
