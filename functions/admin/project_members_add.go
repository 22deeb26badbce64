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

func registerAddProjectMembers(s *functions.Server) {
	type input struct {
		ProjectParam
		Body ProjectMembersChange
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "add-project-members", Method: http.MethodPost, Path: "/admin/projects/{project_id}/members",
		Summary: "Add project members",
		Description: "Makes the users given members of the project; users who already are stay so. The users must " +
			"belong to the project's domain (400 otherwise); unknown users are 404 and nothing changes.",
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
			var foreign []string
			for _, u := range users {
				if u.DomainName != project.DomainName {
					foreign = append(foreign, u.Email)
				}
			}
			if len(foreign) > 0 {
				return functions.ErrInvalidAPIParams("Users of another domain cannot join the project.", map[string]any{"users": foreign})
			}
			_, err = db.Q.AssociationGroupsUsersAddUsers(ctx, tx, &dbsqlc.AssociationGroupsUsersAddUsersParams{
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
