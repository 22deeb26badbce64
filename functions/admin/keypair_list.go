package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerListKeypairs(s *functions.Server) {
	type input struct {
		PageParams
		User     string         `query:"user" maxLength:"64" doc:"Only keypairs of this user, by id (uuid) or e-mail address."`
		IsActive optional[bool] `query:"is_active" doc:"Only active (true) or inactive (false) keypairs; all when absent."`
	}
	type output struct {
		Body KeypairList
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-keypairs", Method: http.MethodGet, Path: "/admin/keypairs",
		Summary:     "List keypairs",
		Description: "Pages through keypairs by owner and access key, without secret keys. Domain admins see the keypairs of their own domain's users.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*output, error) {
		id := caller(ctx)
		pool := s.Deps().Pool
		domain, err := domainFilter(id, "")
		if err != nil {
			return nil, err
		}
		var owner *uuid.UUID
		if in.User != "" {
			u, err := lookupUser(ctx, pool, in.User)
			if err != nil {
				return nil, err
			}
			if err := checkDomain(id, u.DomainName); err != nil {
				return nil, err
			}
			owner = &u.Uuid
		}
		total, err := db.Q.KeypairCount(ctx, pool, &dbsqlc.KeypairCountParams{UserUuid: owner, DomainName: domain, IsActive: in.IsActive.ptr()})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		rows, err := db.Q.KeypairList(ctx, pool, &dbsqlc.KeypairListParams{
			UserUuid: owner, DomainName: domain, IsActive: in.IsActive.ptr(), RowLimit: in.Limit, RowOffset: in.Offset,
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		out := &output{Body: KeypairList{Items: make([]Keypair, 0, len(rows)), TotalCount: total}}
		for _, r := range rows {
			out.Body.Items = append(out.Body.Items, keypairFromRow(&r.Keypair, r.IsMain, false))
		}
		return out, nil
	})
}
