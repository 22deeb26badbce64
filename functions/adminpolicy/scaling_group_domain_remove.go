package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
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
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*deleteOutput, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		n, err := db.Q.SgroupsForDomainsDelete(ctx, pool, &dbsqlc.SgroupsForDomainsDeleteParams{ScalingGroup: in.Name, Domain: in.Domain})
		if err != nil {
			return nil, functions.FromDB(err, "domain association")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("domain association", "The domain is not associated with the scaling group.")
		}
		return nil, nil
	})
}
