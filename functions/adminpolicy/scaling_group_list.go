package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListScalingGroups(s *functions.Server) {
	type input struct {
		PageParams
	}
	type output struct {
		Body ScalingGroupList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-admin-scaling-groups", Method: http.MethodGet, Path: "/admin/scaling-groups",
		Summary:     "List scaling groups (admin)",
		Description: "Pages through all scaling groups by name, active or not, with their full configuration.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.ScalingGroupCount(ctx, pool)
		if err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		rows, err := db.Q.ScalingGroupList(ctx, pool, &dbsqlc.ScalingGroupListParams{RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		out := &output{Body: ScalingGroupList{Items: make([]ScalingGroup, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			g, err := scalingGroupFromRow(r)
			if err != nil {
				return nil, err
			}
			out.Body.Items = append(out.Body.Items, g)
		}
		return out, nil
	})
}
