package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
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
		Tag: tag, Role: functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*noContent, error) {
		pool := s.Deps().Pool
		if !in.Purge {
			inactive := false
			if _, err := db.Q.DomainUpdate(ctx, pool, &dbsqlc.DomainUpdateParams{Name: in.Name, IsActive: &inactive}); err != nil {
				return nil, functions.FromDB(err, "domain")
			}
			return nil, nil
		}
		err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
			if _, err := db.Q.DomainLock(ctx, tx, in.Name); err != nil {
				return err
			}
			use, err := db.Q.DomainUsage(ctx, tx, in.Name)
			if err != nil {
				return err
			}
			if use.Users > 0 || use.Projects > 0 {
				return functions.ErrInvalidAPIParams(
					fmt.Sprintf("The domain is still in use: %d users and %d projects remain in it.", use.Users, use.Projects),
					map[string]int64{"users": use.Users, "projects": use.Projects})
			}
			_, err = db.Q.DomainDelete(ctx, tx, in.Name)
			return err
		})
		if err != nil {
			return nil, functions.FromDB(err, "domain")
		}
		return nil, nil
	})
}
