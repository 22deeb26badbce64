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

func registerRemoveProjectMembers(s *functions.Server) {
	type input struct {
		ProjectParam
		Body ProjectMembersChange
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "remove-project-members", Method: http.MethodDelete, Path: "/admin/projects/{project_id}/members",
		Summary: "Remove project members",
		Description: "Ends the membership of the users given (JSON body on DELETE); users who are not members are " +
			"ignored. Unknown users are 404 and nothing changes.",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		id := caller(ctx)
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			project, err := db.Q.GroupLock(ctx, tx, in.id())
			if err != nil {
				return functions.FromDB(err, "project")
			}
			if err := checkDomain(id, project.DomainName); err != nil {
				return err
			}
			users, err := in.Body.resolve(ctx, tx)
			if err != nil {
				return err
			}
			_, err = db.Q.AssociationGroupsUsersRemoveUsers(ctx, tx, &dbsqlc.AssociationGroupsUsersRemoveUsersParams{
				GroupID: project.ID, UserIds: userIDs(users),
			})
			return err
		})
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		return nil, nil
	})
}
