package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteResourcePreset(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-resource-preset", Method: http.MethodDelete, Path: "/admin/resource-presets/{name}",
		Summary:     "Delete a resource preset",
		Description: "Deletes a resource preset.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *NameParam) (*deleteOutput, error) {
		n, err := db.Q.ResourcePresetDelete(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "resource preset")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("resource preset", "")
		}
		return nil, nil
	})
}
