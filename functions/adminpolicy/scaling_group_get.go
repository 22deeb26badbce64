package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

// ScalingGroupParam is the {name} path parameter of scaling group operations.
type ScalingGroupParam struct {
	Name string `path:"name" minLength:"1" maxLength:"64" doc:"Scaling group name."`
}

func registerGetScalingGroup(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-scaling-group", Method: http.MethodGet, Path: "/admin/scaling-groups/{name}",
		Summary:     "Get a scaling group",
		Description: "Returns one scaling group with its full configuration.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *ScalingGroupParam) (*scalingGroupOutput, error) {
		row, err := db.Q.ScalingGroupGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		g, err := scalingGroupFromRow(row)
		if err != nil {
			return nil, err
		}
		return &scalingGroupOutput{Body: g}, nil
	})
}
