package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
)

// ScalingGroupProjectAdd is the body of add-scaling-group-project.
type ScalingGroupProjectAdd struct {
	ProjectID uuid.UUID `json:"project_id" format:"uuid" doc:"Id of the project to associate." example:"2de2b969-1d04-48a6-af16-0bc8adb3c831"`
}

func registerAddScalingGroupProject(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		Body ScalingGroupProjectAdd
	}
	type output struct {
		Body ScalingGroupProject
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "add-scaling-group-project", Method: http.MethodPost, Path: "/admin/scaling-groups/{name}/projects",
		Summary:     "Associate a project with a scaling group",
		Description: "Lets the members of the project use the scaling group for its sessions. Adding an existing association changes nothing and succeeds.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*output, error) {
		a, err := s.AdminService().AssociateScalingGroupWithProject(ctx, svcCaller(ctx), in.Name, in.Body.ProjectID)
		if err != nil {
			return nil, functions.FromService(err)
		}
		p := a.Project
		return &output{Body: ScalingGroupProject{
			ScalingGroup: in.Name, ProjectID: p.ProjectID, ProjectName: p.ProjectName, DomainName: p.DomainName,
		}}, nil
	})
}
