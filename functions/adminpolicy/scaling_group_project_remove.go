package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
)

func registerRemoveScalingGroupProject(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		ProjectID string `path:"project_id" format:"uuid" doc:"Id of the associated project."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "remove-scaling-group-project", Method: http.MethodDelete, Path: "/admin/scaling-groups/{name}/projects/{project_id}",
		Summary:     "Dissociate a project from a scaling group",
		Description: "Removes the association of a project with a scaling group; 404 when there is none.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		id, err := uuid.Parse(in.ProjectID)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("project_id: not a UUID", map[string]string{"project_id": err.Error()})
		}
		if err := s.AdminService().DisassociateScalingGroupWithProject(ctx, svcCaller(ctx), in.Name, id); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
