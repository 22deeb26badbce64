package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetResourcePreset(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-resource-preset", Method: http.MethodGet, Path: "/admin/resource-presets/{name}",
		Summary:     "Get a resource preset",
		Description: "Returns one resource preset.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*resourcePresetOutput, error) {
		row, err := db.Q.ResourcePresetGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		p, err := resourcePresetFromRow(row)
		if err != nil {
			return nil, err
		}
		return &resourcePresetOutput{Body: p}, nil
	})
}
