package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListKeypairResourcePolicies(s *functions.Server) {
	type input struct {
		PageParams
	}
	type output struct {
		Body KeypairResourcePolicyList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-keypair-resource-policies", Method: http.MethodGet, Path: "/admin/keypair-resource-policies",
		Summary:     "List keypair resource policies",
		Description: "Pages through the keypair resource policies by name.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.KeypairResourcePolicyCount(ctx, pool)
		if err != nil {
			return nil, functions.FromDB(err, "keypair resource policy")
		}
		rows, err := db.Q.KeypairResourcePolicyList(ctx, pool, &dbsqlc.KeypairResourcePolicyListParams{RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "keypair resource policy")
		}
		out := &output{Body: KeypairResourcePolicyList{Items: make([]KeypairResourcePolicy, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			p, err := keypairResourcePolicyFromRow(r)
			if err != nil {
				return nil, err
			}
			out.Body.Items = append(out.Body.Items, p)
		}
		return out, nil
	})
}
