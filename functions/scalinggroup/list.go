package scalinggroup

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

type availableSgroupsInput struct {
	Body sgroupProjectParams `required:"false"`
}

// AvailableScalingGroup names one scaling group.
type AvailableScalingGroup struct {
	Name string `json:"name" doc:"Scaling group name." example:"default"`
}

// AvailableScalingGroupsOutput is the answer of GET /scaling-groups.
type AvailableScalingGroupsOutput struct {
	Body struct {
		ScalingGroups []AvailableScalingGroup `json:"scaling_groups" doc:"The scaling groups the caller may use, by name."`
	}
}

func registerListAvailable(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-available-scaling-groups", Method: http.MethodGet, Path: "/scaling-groups", Tag: tag,
		Summary: "Scaling groups the caller may use",
		Description: "The active scaling groups associated with the caller's domain, the given project (group, " +
			"group_id or group_name: a project name or id) or the caller's access key. Callers without an admin " +
			"keypair see only public ones.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true,
		Aliases: projectAliases,
	}), func(ctx context.Context, in *availableSgroupsInput) (*AvailableScalingGroupsOutput, error) {
		ref := in.Body.project()
		if ref == nil {
			return nil, functions.ErrInvalidAPIParams("Missing the project (group, group_id or group_name).",
				map[string]string{"group": "is required"})
		}
		id := functions.IdentityFrom(ctx)
		rows, err := allowed(ctx, s, id, *ref)
		if err != nil {
			return nil, err
		}
		out := &AvailableScalingGroupsOutput{}
		out.Body.ScalingGroups = make([]AvailableScalingGroup, 0, len(rows))
		for _, r := range rows {
			if r.IsPublic || id.IsAdmin() {
				out.Body.ScalingGroups = append(out.Body.ScalingGroups, AvailableScalingGroup{Name: r.Name})
			}
		}
		return out, nil
	})
}
