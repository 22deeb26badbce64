package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ScalingGroupKeypairAdd is the body of add-scaling-group-keypair.
type ScalingGroupKeypairAdd struct {
	AccessKey string `json:"access_key" minLength:"1" maxLength:"20" doc:"Access key of the keypair to associate." example:"AKIAIOSFODNN7EXAMPLE"`
}

func registerAddScalingGroupKeypair(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		Body ScalingGroupKeypairAdd
	}
	type output struct {
		Body ScalingGroupKeypair
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "add-scaling-group-keypair", Method: http.MethodPost, Path: "/admin/scaling-groups/{name}/keypairs",
		Summary:     "Associate a keypair with a scaling group",
		Description: "Lets requests signed with the keypair use the scaling group. Adding an existing association changes nothing and succeeds.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		kp, err := db.Q.SgroupsForKeypairsTarget(ctx, pool, in.Body.AccessKey)
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		err = db.Q.SgroupsForKeypairsInsert(ctx, pool, &dbsqlc.SgroupsForKeypairsInsertParams{ScalingGroup: in.Name, AccessKey: kp.AccessKey})
		if err != nil {
			return nil, functions.FromDB(err, "keypair association")
		}
		return &output{Body: ScalingGroupKeypair{ScalingGroup: in.Name, AccessKey: kp.AccessKey, UserID: kp.UserID}}, nil
	})
}
