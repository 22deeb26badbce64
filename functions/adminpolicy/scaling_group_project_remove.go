package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
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
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		id, err := uuid.Parse(in.ProjectID)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("project_id: not a UUID", map[string]string{"project_id": err.Error()})
		}
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		n, err := db.Q.SgroupsForGroupsDelete(ctx, pool, &dbsqlc.SgroupsForGroupsDeleteParams{ScalingGroup: in.Name, ProjectID: id})
		if err != nil {
			return nil, functions.FromDB(err, "project association")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("project association", "The project is not associated with the scaling group.")
		}
		return nil, nil
	})
}
