package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// resolveRequest resolves what a create request names, in Backend.AI's order of checks: the
// owner and its policy, the domain and project, the image, the resources and the scaling
// group. These come from the process cache; what must be read fresh (the capacity of the
// scaling group's agents, the dependencies) is checked by admit, in the create transaction.
func resolveRequest(ctx context.Context, s *functions.Server, id *functions.Identity, r *request) error {
	var err error
	if r.owner, err = resolveOwner(ctx, s, id, r.ownerKey); err != nil {
		return err
	}
	if err := checkClusterSize(ctx, s, r); err != nil {
		return err
	}
	if err := resolveProject(ctx, s, id, r, r.domainRef, r.groupRef); err != nil {
		return err
	}
	if r.img, err = resolveImage(ctx, s, r.image, r.arch); err != nil {
		return err
	}
	known := s.Deps().Shared.ResourceSlots()
	if r.perKernel, err = normalizeResources(r.resources, known, r.img.Resources); err != nil {
		return err
	}
	if err := checkSessionTotal(r, known); err != nil {
		return err
	}
	if r.sgroup, err = resolveScalingGroup(ctx, s, r, r.sgroupRef); err != nil {
		return err
	}
	return nil
}

// resolveDependencies resolves the sessions the request depends on, on q: each must name
// exactly one session of the owner.
func resolveDependencies(ctx context.Context, q db.DBTX, r *request) error {
	for _, ref := range r.depRefs {
		rows, err := matchSessionsIn(ctx, q, r.owner.AccessKey, ref, true)
		if err != nil {
			return err
		}
		dep, err := oneMatch(rows, ref, func(m *dbsqlc.SessionMatchRow) map[string]any {
			return sessionMatch(m.ID, m.Name, m.Status, m.CreatedAt)
		})
		if err != nil {
			return err
		}
		r.deps = append(r.deps, dep.ID)
	}
	return nil
}

// checkClusterSize refuses a cluster larger than the owner's keypair resource policy allows
// (412 quota-exceeded, as Backend.AI), and takes the owner's pending-session cap from the
// policy (see pendingCap).
func checkClusterSize(ctx context.Context, s *functions.Server, r *request) error {
	if r.owner.Policy == "" {
		r.pendingLimit, r.pendingLimited = pendingCap(s, nil)
		return nil
	}
	pol, err := cache.For[string, *dbsqlc.KeypairResourcePolicy](s.Deps().Cache, "session.keypair-policy", 0,
		"keypair_resource_policies").Get(r.owner.Policy, func() (*dbsqlc.KeypairResourcePolicy, error) {
		return db.Q.KeypairResourcePolicyGetByName(ctx, s.Deps().Pool, r.owner.Policy)
	})
	if err != nil {
		return functions.FromDB(err, "keypair resource policy")
	}
	r.pendingLimit, r.pendingLimited = pendingCap(s, pol.MaxPendingSessionCount)
	if pol.MaxContainersPerSession > 0 && r.clusterSize > int(pol.MaxContainersPerSession) {
		return functions.ErrQuotaExceeded(fmt.Sprintf("You cannot create session with more than %d containers.", pol.MaxContainersPerSession))
	}
	return nil
}

// resolveProject applies Backend.AI's domain and project rules: a superadmin may name any domain,
// others only their own; the project must be an active one of that domain, and users must be
// among its members.
func resolveProject(ctx context.Context, s *functions.Server, id *functions.Identity, r *request, domain, group *string) error {
	r.domain = "default"
	if domain != nil && *domain != "" {
		r.domain = *domain
	}
	if !id.IsSuperadmin() && r.domain != r.owner.Domain {
		return functions.ErrInvalidAPIParams("You can only set the domain to your domain.", map[string]string{"domain": r.domain})
	}
	ref := "default"
	if group != nil && *group != "" {
		ref = *group
	}
	params := &dbsqlc.SessionProjectResolveParams{UserUuid: r.owner.UserUUID, DomainName: r.domain}
	if u, err := uuid.Parse(ref); err == nil {
		params.ID = &u
	} else {
		params.Name = &ref
	}
	key := projectKey{user: r.owner.UserUUID, domain: r.domain, ref: ref}
	row, err := cache.For[projectKey, *dbsqlc.SessionProjectResolveRow](s.Deps().Cache, "session.project", 0,
		"groups", "association_groups_users").Get(key, func() (*dbsqlc.SessionProjectResolveRow, error) {
		return db.Q.SessionProjectResolve(ctx, s.Deps().Pool, params)
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return functions.ErrInvalidAPIParams("Invalid group", map[string]string{"group": ref})
		}
		return functions.FromDB(err, "project")
	}
	if !row.IsMember && !id.IsSuperadmin() && !id.IsDomainAdmin() {
		return functions.ErrInvalidAPIParams("Invalid group", map[string]string{"group": ref})
	}
	r.groupID = row.ID
	return nil
}

// projectKey is the key of a cached project resolution.
type projectKey struct {
	user        uuid.UUID
	domain, ref string
}

// errNoImage is a resolution that found no image.
var errNoImage = errors.New("no such image")

// resolveImage finds the image ref names: by canonical name (with the default registry and
// tag filled in), preferring the requested architecture, else as an alias.
func resolveImage(ctx context.Context, s *functions.Server, ref, arch string) (*dbsqlc.SessionImageCandidatesRow, error) {
	names := []string{ref}
	withTag := ref
	if last := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(last, ":") {
		withTag = ref + ":latest"
		names = append(names, withTag)
	}
	if !strings.Contains(ref, "/") {
		names = append(names, "index.docker.io/lablup/"+withTag)
	}
	rows, err := cache.For[string, []*dbsqlc.SessionImageCandidatesRow](s.Deps().Cache, "session.image", 0,
		"images", "image_aliases").Get(ref, func() ([]*dbsqlc.SessionImageCandidatesRow, error) {
		rows, err := db.Q.SessionImageCandidates(ctx, s.Deps().Pool, &dbsqlc.SessionImageCandidatesParams{Alias: ref, Names: names})
		if err == nil && len(rows) == 0 {
			err = errNoImage // not cached: an image registered a moment ago is found at once
		}
		return rows, err
	})
	if errors.Is(err, errNoImage) {
		return nil, functions.ErrObjectNotFound("environment image", "")
	}
	if err != nil {
		return nil, functions.FromDB(err, "environment image")
	}
	var byName, alias []*dbsqlc.SessionImageCandidatesRow
	for _, r := range rows {
		if r.ViaAlias {
			alias = append(alias, r)
		} else {
			byName = append(byName, r)
		}
	}
	for _, group := range [][]*dbsqlc.SessionImageCandidatesRow{byName, alias} {
		for _, r := range group {
			if r.Architecture == arch {
				return r, nil
			}
		}
		if len(group) == 1 {
			return group[0], nil
		}
	}
	return nil, functions.ErrObjectNotFound("environment image", "")
}

// resolveScalingGroup picks the scaling group: the requested one if it is allowed for the
// owner's key, project and domain and takes this session type, else the first allowed one that
// does; "default" when none is associated.
func resolveScalingGroup(ctx context.Context, s *functions.Server, r *request, requested *string) (string, error) {
	params := &dbsqlc.SessionScalingGroupCandidatesParams{DomainName: r.domain, GroupID: r.groupID, AccessKey: r.owner.AccessKey}
	rows, err := cache.For[dbsqlc.SessionScalingGroupCandidatesParams, []*dbsqlc.SessionScalingGroupCandidatesRow](s.Deps().Cache,
		"session.scaling-groups", 0, "scaling_groups", "sgroups_for_domains", "sgroups_for_groups", "sgroups_for_keypairs").
		Get(*params, func() ([]*dbsqlc.SessionScalingGroupCandidatesRow, error) {
			return db.Q.SessionScalingGroupCandidates(ctx, s.Deps().Pool, params)
		})
	if err != nil {
		return "", functions.FromDB(err, "scaling group")
	}
	allows := func(opts json.RawMessage) bool {
		var o struct {
			AllowedSessionTypes []string `json:"allowed_session_types"`
		}
		_ = json.Unmarshal(opts, &o)
		if o.AllowedSessionTypes == nil {
			o.AllowedSessionTypes = []string{"interactive", "batch"}
		}
		for _, t := range o.AllowedSessionTypes {
			if strings.EqualFold(t, r.sessType) {
				return true
			}
		}
		return false
	}
	if requested != nil && *requested != "" {
		for _, row := range rows {
			if row.Name == *requested && row.IsPublic && allows(row.SchedulerOpts) {
				return row.Name, nil
			}
		}
		return "", functions.ErrObjectNotFound("scaling group",
			fmt.Sprintf("The scaling group %q does not exist or is not allowed for this session.", *requested))
	}
	for _, row := range rows {
		if row.IsPublic && allows(row.SchedulerOpts) {
			return row.Name, nil
		}
	}
	if len(rows) > 0 {
		return "", functions.ErrObjectNotFound("scaling group", "No scaling group allows this session type.")
	}
	return "default", nil
}
