package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListUserResourcePolicies(s *functions.Server) {
	type input struct {
		PageParams
	}
	type output struct {
		Body UserResourcePolicyList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-user-resource-policies", Method: http.MethodGet, Path: "/admin/user-resource-policies",
		Summary:     "List user resource policies",
		Description: "Pages through the user resource policies by name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.UserResourcePolicyCount(ctx, pool)
		if err != nil {
			return nil, functions.FromDB(err, "user resource policy")
		}
		rows, err := db.Q.UserResourcePolicyList(ctx, pool, &dbsqlc.UserResourcePolicyListParams{RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "user resource policy")
		}
		out := &output{Body: UserResourcePolicyList{Items: make([]UserResourcePolicy, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, userResourcePolicyFromRow(r))
		}
		return out, nil
	})
}
