// Package scalinggroup is the Backend.AI-compatible /scaling-groups API: which scaling groups
// (agent pools) a user may start sessions in, and which wsproxy protocol version a scaling
// group's app proxy speaks.
//
// The scaling groups a request may use are the active ones associated with the caller's
// domain, with the given project, or with the caller's access key.
package scalinggroup

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// tag groups these operations in the OpenAPI document.
const tag = "scaling-group"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerListAvailable(s)
	registerGetWSProxyVersion(s)
}

// sgroupProjectParams name a project by name or id (aliases: projectAliases).
type sgroupProjectParams struct {
	Group *string `json:"group,omitempty" nullable:"true" doc:"Project name or id." example:"default"`
}

// projectAliases are the other names Backend.AI accepts for group; the first given wins.
var projectAliases = functions.Aliases{{"group", "group_id", "group_name"}} //nolint:gochecknoglobals // read-only

// project returns the project named, or nil.
func (p sgroupProjectParams) project() *string { return p.Group }

// allowed lists the scaling groups the caller may use with the project named by ref (a project
// id or name in the caller's domain). An unknown project contributes no scaling groups.
func allowed(ctx context.Context, s *functions.Server, id *functions.Identity, ref string) ([]*dbsqlc.ScalingGroupListAllowedRow, error) {
	pool := s.Deps().Pool
	params := &dbsqlc.ResourceGroupResolveParams{DomainName: id.Domain()}
	if u, err := uuid.Parse(ref); err == nil {
		params.ID = &u
	} else {
		params.Name = &ref
	}
	var groupID *uuid.UUID
	if ref != "" {
		gid, err := db.Q.ResourceGroupResolve(ctx, pool, params)
		switch {
		case err == nil:
			groupID = &gid
		case errors.Is(db.Translate(err), db.ErrNotFound):
		default:
			return nil, functions.FromDB(err, "project")
		}
	}
	rows, err := db.Q.ScalingGroupListAllowed(ctx, pool, &dbsqlc.ScalingGroupListAllowedParams{
		DomainName: id.Domain(), GroupID: groupID, AccessKey: id.AccessKey,
	})
	if err != nil {
		return nil, functions.FromDB(err, "scaling group")
	}
	return rows, nil
}
