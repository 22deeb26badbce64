package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
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
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*output, error) {
		a, err := s.AdminService().AssociateScalingGroupWithKeypair(ctx, svcCaller(ctx), in.Name, in.Body.AccessKey)
		if err != nil {
			return nil, functions.FromService(err)
		}
		kp := a.Keypair
		return &output{Body: ScalingGroupKeypair{ScalingGroup: in.Name, AccessKey: kp.AccessKey, UserID: kp.UserID}}, nil
	})
}
