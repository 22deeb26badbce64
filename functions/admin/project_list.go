package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListProjects(s *functions.Server) {
	type input struct {
		PageParams
		DomainName string         `query:"domain_name" maxLength:"64" doc:"Only projects of this domain. Domain admins see their own domain only (403 for another)."`
		IsActive   optional[bool] `query:"is_active" doc:"Only active (true) or inactive (false) projects; all when absent."`
	}
	type output struct {
		Body ProjectList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-projects", Method: http.MethodGet, Path: "/admin/projects",
		Summary:     "List projects",
		Description: "Pages through the projects by domain and name. Domain admins see the projects of their own domain.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden},
	}), func(ctx context.Context, in *input) (*output, error) {
		domain, err := domainFilter(caller(ctx), in.DomainName)
		if err != nil {
			return nil, err
		}
		pool := s.Deps().Pool
		total, err := db.Q.GroupCount(ctx, pool, &dbsqlc.GroupCountParams{DomainName: domain, IsActive: in.IsActive.ptr()})
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		rows, err := db.Q.GroupList(ctx, pool, &dbsqlc.GroupListParams{
			DomainName: domain, IsActive: in.IsActive.ptr(), RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		out := &output{Body: ProjectList{Items: make([]Project, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			p, err := projectFromRow(r)
			if err != nil {
				return nil, err
			}
			out.Body.Items = append(out.Body.Items, p)
		}
		return out, nil
	})
}
