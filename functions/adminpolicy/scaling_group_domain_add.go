package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
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
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		pool := s.Deps().Pool
		if _, err := db.Q.ScalingGroupGetByName(ctx, pool, in.Name); err != nil {
			return nil, functions.FromDB(err, "scaling group")
		}
		ok, err := db.Q.SgroupsForDomainsDomainExists(ctx, pool, in.Body.Domain)
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		if !ok {
			return nil, functions.ErrObjectNotFound("domain", "")
		}
		err = db.Q.SgroupsForDomainsInsert(ctx, pool, &dbsqlc.SgroupsForDomainsInsertParams{ScalingGroup: in.Name, Domain: in.Body.Domain})
		if err != nil {
			return nil, functions.FromDB(err, "domain association")
		}
		return &output{Body: ScalingGroupDomain{ScalingGroup: in.Name, Domain: in.Body.Domain}}, nil
	})
}
