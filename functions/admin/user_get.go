package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

func registerGetUser(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-user", Method: http.MethodGet, Path: "/admin/users/{user}",
		Summary:     "Get a user",
		Description: "Returns one user, by id or e-mail address. Domain admins see users of their own domain only.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *UserParam) (*userOutput, error) {
		pool := s.Deps().Pool
		u, err := lookupUser(ctx, pool, in.User)
		if err != nil {
			return nil, err
		}
		if err := checkDomain(caller(ctx), u.DomainName); err != nil {
			return nil, err
		}
		out, err := oneUser(ctx, pool, u)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: out}, nil
	})
}
