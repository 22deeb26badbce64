package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListProjectMembers(s *functions.Server) {
	type input struct {
		ProjectParam
		PageParams
	}
	type output struct {
		Body UserList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-project-members", Method: http.MethodGet, Path: "/admin/projects/{project_id}/members",
		Summary:     "List project members",
		Description: "Pages through the users who are members of a project, by e-mail address.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := loadProject(ctx, pool, caller(ctx), in.id()); err != nil {
			return nil, err
		}
		total, err := db.Q.AssociationGroupsUsersCountMembers(ctx, pool, in.id())
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		rows, err := db.Q.AssociationGroupsUsersListMembers(ctx, pool, &dbsqlc.AssociationGroupsUsersListMembersParams{
			GroupID: in.id(), RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		users := make([]*dbsqlc.User, 0, len(rows))
		for _, r := range rows {
			users = append(users, &r.User)
		}
		items, err := usersFromRows(ctx, pool, users)
		if err != nil {
			return nil, err
		}
		return &output{Body: UserList{Items: items, TotalCount: total}}, nil
	})
}
