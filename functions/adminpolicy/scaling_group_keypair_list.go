package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListScalingGroupKeypairs(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		PageParams
	}
	type output struct {
		Body ScalingGroupKeypairList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-scaling-group-keypairs", Method: http.MethodGet, Path: "/admin/scaling-groups/{name}/keypairs",
		Summary:     "List the keypairs of a scaling group",
		Description: "Pages through the keypairs associated with a scaling group, by access key.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		total, err := db.Q.SgroupsForKeypairsCount(ctx, pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "keypair association")
		}
		rows, err := db.Q.SgroupsForKeypairsList(ctx, pool, &dbsqlc.SgroupsForKeypairsListParams{
			ScalingGroup: in.Name, RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair association")
		}
		out := &output{Body: ScalingGroupKeypairList{Items: make([]ScalingGroupKeypair, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, ScalingGroupKeypair{ScalingGroup: r.ScalingGroup, AccessKey: r.AccessKey, UserID: r.UserID})
		}
		return out, nil
	})
}
