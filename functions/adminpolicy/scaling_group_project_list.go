package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListScalingGroupProjects(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		PageParams
	}
	type output struct {
		Body ScalingGroupProjectList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-scaling-group-projects", Method: http.MethodGet, Path: "/admin/scaling-groups/{name}/projects",
		Summary:     "List the projects of a scaling group",
		Description: "Pages through the projects associated with a scaling group, by domain and project name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		total, err := db.Q.SgroupsForGroupsCount(ctx, pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "project association")
		}
		rows, err := db.Q.SgroupsForGroupsList(ctx, pool, &dbsqlc.SgroupsForGroupsListParams{
			ScalingGroup: in.Name, RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "project association")
		}
		out := &output{Body: ScalingGroupProjectList{Items: make([]ScalingGroupProject, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, ScalingGroupProject{
				ScalingGroup: r.ScalingGroup, ProjectID: r.ProjectID, ProjectName: r.ProjectName, DomainName: r.DomainName,
			})
		}
		return out, nil
	})
}
