package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
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
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		if err := s.AdminService().DisassociateScalingGroupWithKeypair(ctx, svcCaller(ctx), in.Name, in.AccessKey); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
