package adminpolicy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerDeleteScalingGroup(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-scaling-group", Method: http.MethodDelete, Path: "/admin/scaling-groups/{name}",
		Summary: "Delete a scaling group",
		Description: "Deletes a scaling group with its domain, project and keypair associations. A group with agents " +
			"registered in it, or still referred to by sessions, cannot be deleted (400).",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *ScalingGroupParam) (*deleteOutput, error) {
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			agents, err := db.Q.ScalingGroupCountAgents(ctx, tx, in.Name)
			if err != nil {
				return err
			}
			if agents > 0 {
				msg := fmt.Sprintf("The scaling group is still in use: %d agent(s) are registered in it.", agents)
				return functions.ErrInvalidAPIParams(msg, map[string]any{"agents": agents})
			}
			n, err := db.Q.ScalingGroupDelete(ctx, tx, in.Name)
			if err != nil {
				return err
			}
			if n == 0 {
				return functions.ErrObjectNotFound("scaling group", "")
			}
			return nil
		})
		if err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		return nil, nil
	})
}
