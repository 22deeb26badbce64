package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListUsers(s *functions.Server) {
	type input struct {
		PageParams
		DomainName string `query:"domain_name" maxLength:"64" doc:"Only users of this domain. Domain admins see their own domain only (403 for another)."`
		Status     string `query:"status" enum:"active,inactive,deleted,before-verification" doc:"Only users with this status."`
		Role       string `query:"role" enum:"superadmin,admin,user,monitor" doc:"Only users with this role."`
		GroupID    string `query:"group_id" format:"uuid" doc:"Only members of this project."`
	}
	type output struct {
		Body UserList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-users", Method: http.MethodGet, Path: "/admin/users",
		Summary:     "List users",
		Description: "Pages through users by e-mail address. Domain admins see the users of their own domain.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden},
	}), func(ctx context.Context, in *input) (*output, error) {
		domain, err := domainFilter(caller(ctx), in.DomainName)
		if err != nil {
			return nil, err
		}
		var status *dbsqlc.UserStatus
		if in.Status != "" {
			v := dbsqlc.UserStatus(in.Status)
			status = &v
		}
		var role *dbsqlc.UserRole
		if in.Role != "" {
			v := dbsqlc.UserRole(in.Role)
			role = &v
		}
		var group *uuid.UUID
		if in.GroupID != "" {
			v, err := uuid.Parse(in.GroupID)
			if err != nil {
				return nil, functions.ErrInvalidAPIParams("group_id: not a uuid", map[string]string{"group_id": "not a uuid"})
			}
			group = &v
		}
		pool := s.Deps().Pool
		total, err := db.Q.UserCount(ctx, pool, &dbsqlc.UserCountParams{DomainName: domain, Status: status, Role: role, GroupID: group})
		if err != nil {
			return nil, functions.FromDB(err, "user")
		}
		rows, err := db.Q.UserList(ctx, pool, &dbsqlc.UserListParams{
			DomainName: domain, Status: status, Role: role, GroupID: group, RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "user")
		}
		items, err := usersFromRows(ctx, pool, rows)
		if err != nil {
			return nil, err
		}
		return &output{Body: UserList{Items: items, TotalCount: total}}, nil
	})
}
