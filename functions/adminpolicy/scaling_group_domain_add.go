package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// ScalingGroupDomainAdd is the body of add-scaling-group-domain.
type ScalingGroupDomainAdd struct {
	Domain string `json:"domain" minLength:"1" maxLength:"64" doc:"Name of the domain to associate." example:"default"`
}

func registerAddScalingGroupDomain(s *functions.Server) {
	type input struct {
		ScalingGroupParam
		Body ScalingGroupDomainAdd
	}
	type output struct {
		Body ScalingGroupDomain
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "add-scaling-group-domain", Method: http.MethodPost, Path: "/admin/scaling-groups/{name}/domains",
		Summary:     "Associate a domain with a scaling group",
		Description: "Lets every user of the domain use the scaling group. Adding an existing association changes nothing and succeeds.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*output, error) {
		if _, err := s.AdminService().AssociateScalingGroupWithDomain(ctx, svcCaller(ctx), in.Name, in.Body.Domain); err != nil {
			return nil, functions.FromService(err)
		}
		return &output{Body: ScalingGroupDomain{ScalingGroup: in.Name, Domain: in.Body.Domain}}, nil
	})
}
