package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerRemoveScalingGroupDomain(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		Domain string `path:"domain" minLength:"1" maxLength:"64" doc:"Name of the associated domain."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "remove-scaling-group-domain", Method: http.MethodDelete, Path: "/admin/scaling-groups/{name}/domains/{domain}",
		Summary:     "Dissociate a domain from a scaling group",
		Description: "Removes the association of a domain with a scaling group; 404 when there is none.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		if err := s.AdminService().DisassociateScalingGroupWithDomain(ctx, svcCaller(ctx), in.Name, in.Domain); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}
