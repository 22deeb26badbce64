package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

func registerGetDomain(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-domain", Method: http.MethodGet, Path: "/admin/domains/{name}",
		Summary:     "Get a domain",
		Description: "Returns one domain.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *DomainParam) (*domainOutput, error) {
		row, err := db.Q.DomainGetByName(ctx, s.Deps().Pool, in.Name)
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		d, err := domainFromRow(row)
		if err != nil {
			return nil, err
		}
		return &domainOutput{Body: d}, nil
	})
}
