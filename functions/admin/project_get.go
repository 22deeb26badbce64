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

// loadProject loads a project the caller may manage: 404 when unknown, 403 outside a domain
// admin's domain.
func loadProject(ctx context.Context, q db.DBTX, id *functions.Identity, projectID uuid.UUID) (*dbsqlc.Group, error) {
	row, err := db.Q.GroupGetByID(ctx, q, projectID)
	if err != nil {
		return nil, functions.FromDB(err, "project")
	}
	if err := checkDomain(id, row.DomainName); err != nil {
		return nil, err
	}
	return row, nil
}

func registerGetProject(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-project", Method: http.MethodGet, Path: "/admin/projects/{project_id}",
		Summary:     "Get a project",
		Description: "Returns one project. Domain admins see projects of their own domain only.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ReadAllowed,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *ProjectParam) (*projectOutput, error) {
		row, err := loadProject(ctx, s.Deps().Pool, caller(ctx), in.id())
		if err != nil {
			return nil, err
		}
		p, err := projectFromRow(row)
		if err != nil {
			return nil, err
		}
		return &projectOutput{Body: p}, nil
	})
}
