package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListDomains(s *functions.Server) {
	type input struct {
		PageParams
		IsActive optional[bool] `query:"is_active" doc:"Only active (true) or inactive (false) domains; all when absent."`
	}
	type output struct {
		Body DomainList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-domains", Method: http.MethodGet, Path: "/admin/domains",
		Summary:     "List domains",
		Description: "Pages through the domains by name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.DomainCount(ctx, pool, in.IsActive.ptr())
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		rows, err := db.Q.DomainList(ctx, pool, &dbsqlc.DomainListParams{IsActive: in.IsActive.ptr(), RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		out := &output{Body: DomainList{Items: make([]Domain, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			d, err := domainFromRow(r)
			if err != nil {
				return nil, err
			}
			out.Body.Items = append(out.Body.Items, d)
		}
		return out, nil
	})
}
