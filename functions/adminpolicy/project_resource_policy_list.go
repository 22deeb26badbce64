package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListProjectResourcePolicies(s *functions.Server) {
	type input struct {
		PageParams
	}
	type output struct {
		Body ProjectResourcePolicyList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-project-resource-policies", Method: http.MethodGet, Path: "/admin/project-resource-policies",
		Summary:     "List project resource policies",
		Description: "Pages through the project resource policies by name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.ProjectResourcePolicyCount(ctx, pool)
		if err != nil {
			return nil, functions.FromDB(err, "project resource policy")
		}
		rows, err := db.Q.ProjectResourcePolicyList(ctx, pool, &dbsqlc.ProjectResourcePolicyListParams{RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "project resource policy")
		}
		out := &output{Body: ProjectResourcePolicyList{Items: make([]ProjectResourcePolicy, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, projectResourcePolicyFromRow(r))
		}
		return out, nil
	})
}
