package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerDeleteDomain(s *functions.Server) {
	type input struct {
		DomainParam
		Purge bool `query:"purge" default:"false" doc:"Delete the domain for good instead of deactivating it. Refused (400) while users or projects remain in it."`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-domain", Method: http.MethodDelete, Path: "/admin/domains/{name}",
		Summary: "Delete a domain",
		Description: "Deactivates the domain (is_active false). With purge=true the domain and its scaling group " +
			"associations are deleted for good; that is refused with 400 while users or projects remain in it.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusServiceUnavailable, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		svc := s.AdminService()
		if in.Purge {
			return nil, functions.FromService(svc.PurgeDomain(ctx, svcCaller(ctx), in.Name))
		}
		return nil, functions.FromService(svc.DeleteDomain(ctx, svcCaller(ctx), in.Name))
	})
}
