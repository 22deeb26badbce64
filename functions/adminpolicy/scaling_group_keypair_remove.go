package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerRemoveScalingGroupKeypair(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		AccessKey string `path:"access_key" minLength:"1" maxLength:"20" doc:"Access key of the associated keypair."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "remove-scaling-group-keypair", Method: http.MethodDelete, Path: "/admin/scaling-groups/{name}/keypairs/{access_key}",
		Summary:     "Dissociate a keypair from a scaling group",
		Description: "Removes the association of a keypair with a scaling group; 404 when there is none.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		n, err := db.Q.SgroupsForKeypairsDelete(ctx, pool, &dbsqlc.SgroupsForKeypairsDeleteParams{ScalingGroup: in.Name, AccessKey: in.AccessKey})
		if err != nil {
			return nil, functions.FromDB(err, "keypair association")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("keypair association", "The keypair is not associated with the scaling group.")
		}
		return nil, nil
	})
}
