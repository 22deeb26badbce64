package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListScalingGroupDomains(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		PageParams
	}
	type output struct {
		Body ScalingGroupDomainList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-scaling-group-domains", Method: http.MethodGet, Path: "/admin/scaling-groups/{name}/domains",
		Summary:     "List the domains of a scaling group",
		Description: "Pages through the domains associated with a scaling group, by name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		total, err := db.Q.SgroupsForDomainsCount(ctx, pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "domain association")
		}
		rows, err := db.Q.SgroupsForDomainsList(ctx, pool, &dbsqlc.SgroupsForDomainsListParams{
			ScalingGroup: in.Name, RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "domain association")
		}
		out := &output{Body: ScalingGroupDomainList{Items: make([]ScalingGroupDomain, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, ScalingGroupDomain{ScalingGroup: r.ScalingGroup, Domain: r.Domain})
		}
		return out, nil
	})
}
