package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListResourcePresets(s *functions.Server) {
	type input struct {
		PageParams
	}
	type output struct {
		Body ResourcePresetList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-admin-resource-presets", Method: http.MethodGet, Path: "/admin/resource-presets",
		Summary:     "List resource presets (admin)",
		Description: "Pages through the resource presets by name, with their slots as stored. Users list presets with GET /resource/presets.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		total, err := db.Q.ResourcePresetCount(ctx, pool)
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		rows, err := db.Q.ResourcePresetList(ctx, pool, &dbsqlc.ResourcePresetListParams{RowLimit: in.Limit, RowOffset: in.Offset})
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		out := &output{Body: ResourcePresetList{Items: make([]ResourcePreset, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			p, err := resourcePresetFromRow(r)
			if err != nil {
				return nil, err
			}
			out.Body.Items = append(out.Body.Items, p)
		}
		return out, nil
	})
}
