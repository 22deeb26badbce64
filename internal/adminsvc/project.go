package adminsvc

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
	"github.com/hangar-run/hangar/internal/names"
)

// ProjectCreate is a new project, Backend.AI's group (create_group's GroupInput). DomainName
// nil means the caller's domain; nil fields take their defaults (active, no limit, policy
// "default", type general).
type ProjectCreate struct {
	Name                string
	DomainName          *string
	Description         *string
	IsActive            *bool
	TotalResourceSlots  map[string]string
	AllowedVfolderHosts hostperm.Hosts
	IntegrationID       *string
	ResourcePolicy      *string
	Type                *dbsqlc.ProjectType
	// ContainerRegistry is the project's registry settings (a JSON object); nil means none.
	ContainerRegistry map[string]any
}

// ProjectModify changes a project (modify_group's ModifyGroupInput): nil fields stay.
// DomainName, when given, must be the project's domain (projects do not move between
// domains). Members, when given, adds or removes members in the same transaction
// (modify_group's user_update_mode and user_uuids).
type ProjectModify struct {
	Name                *string
	DomainName          *string
	Description         *string
	IsActive            *bool
	TotalResourceSlots  map[string]string
	AllowedVfolderHosts hostperm.Hosts
	IntegrationID       *string
	ResourcePolicy      *string
	// ContainerRegistry replaces the registry settings when non-nil.
	ContainerRegistry map[string]any
	Members           *MemberUpdate
}

// MemberUpdate adds (Remove false) or removes the members named.
type MemberUpdate struct {
	Remove bool
	Members
}

// Members names users by id or e-mail address (modify_group's user_uuids).
type Members struct {
	UserIDs []string
	Emails  []string
}

// CreateProject creates a project. Superadmins, and domain admins in their own domain.
func (s *Service) CreateProject(ctx context.Context, c Caller, in ProjectCreate) (*dbsqlc.Group, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	domain := deref(in.DomainName, c.Domain)
	if err := checkDomain(c, domain); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxShortName); err != nil {
		return nil, err
	}
	registry, err := encodeRegistry(in.ContainerRegistry)
	if err != nil {
		return nil, err
	}
	total, err := s.encodeSlots("total_resource_slots", in.TotalResourceSlots)
	if err != nil {
		return nil, err
	}
	hosts, err := encodeHostPerms(in.AllowedVfolderHosts)
	if err != nil {
		return nil, err
	}
	var row *dbsqlc.Group
	err = db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		var err error
		row, err = db.Q.GroupInsert(ctx, tx, &dbsqlc.GroupInsertParams{
			Name:                in.Name,
			Description:         in.Description,
			IsActive:            deref(in.IsActive, true),
			IntegrationID:       in.IntegrationID,
			DomainName:          domain,
			TotalResourceSlots:  total,
			AllowedVfolderHosts: hosts,
			ResourcePolicy:      deref(in.ResourcePolicy, defaultPolicy),
			Type:                deref(in.Type, dbsqlc.ProjectTypeGeneral),
		})
		if err != nil || registry == nil {
			return err
		}
		if err := db.Q.GroupSetContainerRegistry(ctx, tx, &dbsqlc.GroupSetContainerRegistryParams{ID: row.ID, ContainerRegistry: registry}); err != nil {
			return err
		}
		row, err = db.Q.GroupGetByID(ctx, tx, row.ID)
		return err
	})
	if err != nil {
		return nil, fromDB(err, "project")
	}
	return row, nil
}

// encodeRegistry encodes a project's container registry settings; nil stays nil.
func encodeRegistry(in map[string]any) (json.RawMessage, error) {
	if in == nil {
		return nil, nil
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, invalidParam("container_registry", err)
	}
	return raw, nil
}

// loadProject loads a project the caller may manage: KindNotFound when unknown, KindForbidden
// outside a domain admin's domain.
func loadProject(ctx context.Context, q db.DBTX, c Caller, id uuid.UUID, lock bool) (*dbsqlc.Group, error) {
	var (
		row *dbsqlc.Group
		err error
	)
	if lock {
		row, err = db.Q.GroupLock(ctx, q, id)
	} else {
		row, err = db.Q.GroupGetByID(ctx, q, id)
	}
	if err != nil {
		return nil, fromDB(err, "project")
	}
	if err := checkDomain(c, row.DomainName); err != nil {
		return nil, err
	}
	return row, nil
}

// ModifyProject changes the fields given of project id and its members, in one transaction.
// Superadmins, and domain admins in the project's domain.
func (s *Service) ModifyProject(ctx context.Context, c Caller, id uuid.UUID, in ProjectModify) (*dbsqlc.Group, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireAdmin(c); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := checkName("name", *in.Name, names.MaxShortName); err != nil {
			return nil, err
		}
	}
	params := &dbsqlc.GroupUpdateParams{
		ID:             id,
		Name:           in.Name,
		Description:    in.Description,
		IsActive:       in.IsActive,
		IntegrationID:  in.IntegrationID,
		ResourcePolicy: in.ResourcePolicy,
	}
	var err error
	if in.TotalResourceSlots != nil {
		if params.TotalResourceSlots, err = s.encodeSlots("total_resource_slots", in.TotalResourceSlots); err != nil {
			return nil, err
		}
	}
	if in.AllowedVfolderHosts != nil {
		if params.AllowedVfolderHosts, err = encodeHostPerms(in.AllowedVfolderHosts); err != nil {
			return nil, err
		}
	}
	registry, err := encodeRegistry(in.ContainerRegistry)
	if err != nil {
		return nil, err
	}
	var row *dbsqlc.Group
	err = db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		project, err := loadProject(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		if in.DomainName != nil && *in.DomainName != project.DomainName {
			return invalid("domain_name", "domain_name: a project cannot move to another domain",
				map[string]string{"domain_name": "a project cannot move to another domain"})
		}
		if registry != nil {
			if err := db.Q.GroupSetContainerRegistry(ctx, tx, &dbsqlc.GroupSetContainerRegistryParams{ID: id, ContainerRegistry: registry}); err != nil {
				return err
			}
		}
		if in.Members != nil {
			if err := changeMembers(ctx, tx, project, *in.Members); err != nil {
				return err
			}
		}
		row, err = db.Q.GroupUpdate(ctx, tx, params)
		return err
	})
	if err != nil {
		return nil, fromDB(err, "project")
	}
	return row, nil
}

// DeleteProject deactivates project id and drops its integration id, or with purge deletes
// it, its ended sessions, memberships and scaling group associations for good (refused while
// it has kernels that have not ended). Superadmins, and domain admins in its domain.
func (s *Service) DeleteProject(ctx context.Context, c Caller, id uuid.UUID, purge bool) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireAdmin(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		row, err := loadProject(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		if !purge {
			_, err = db.Q.GroupDeactivate(ctx, tx, row.ID)
			return err
		}
		active, err := db.Q.GroupActiveKernels(ctx, tx, row.ID)
		if err != nil {
			return err
		}
		if active > 0 {
			return inUse("project", "Group has some active session. Terminate them first to proceed removal.",
				map[string]int64{"kernels": active})
		}
		if _, err := db.Q.GroupDeleteSessions(ctx, tx, row.ID); err != nil {
			return err
		}
		_, err = db.Q.GroupDelete(ctx, tx, row.ID)
		return err
	})
	return fromDB(err, "project")
}

// AddProjectMembers makes the users given members of project id; members stay members.
// The users must belong to the project's domain; unknown users are KindNotFound and nothing
// changes. Superadmins, and domain admins in the project's domain.
func (s *Service) AddProjectMembers(ctx context.Context, c Caller, id uuid.UUID, m Members) error {
	return s.updateMembers(ctx, c, id, MemberUpdate{Members: m})
}

// RemoveProjectMembers ends the membership of the users given in project id; users who are
// not members are ignored, unknown users are KindNotFound and nothing changes. Superadmins,
// and domain admins in the project's domain.
func (s *Service) RemoveProjectMembers(ctx context.Context, c Caller, id uuid.UUID, m Members) error {
	return s.updateMembers(ctx, c, id, MemberUpdate{Remove: true, Members: m})
}

func (s *Service) updateMembers(ctx context.Context, c Caller, id uuid.UUID, u MemberUpdate) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireAdmin(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		project, err := loadProject(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		return changeMembers(ctx, tx, project, u)
	})
	return fromDB(err, "project")
}

// changeMembers adds or removes the members of u in project.
func changeMembers(ctx context.Context, tx pgx.Tx, project *dbsqlc.Group, u MemberUpdate) error {
	users, err := u.resolve(ctx, tx)
	if err != nil {
		return err
	}
	if u.Remove {
		_, err = db.Q.AssociationGroupsUsersRemoveUsers(ctx, tx, &dbsqlc.AssociationGroupsUsersRemoveUsersParams{
			GroupID: project.ID, UserIds: userIDs(users),
		})
		return err
	}
	var foreign []string
	for _, u := range users {
		if u.DomainName != project.DomainName {
			foreign = append(foreign, u.Email)
		}
	}
	if len(foreign) > 0 {
		return invalid("users", "Users of another domain cannot join the project.", map[string]any{"users": foreign})
	}
	_, err = db.Q.AssociationGroupsUsersAddUsers(ctx, tx, &dbsqlc.AssociationGroupsUsersAddUsersParams{
		GroupID: project.ID, UserIds: userIDs(users),
	})
	return err
}

// resolve finds the users named; any unknown one is KindNotFound naming them all.
func (m Members) resolve(ctx context.Context, q db.DBTX) ([]*dbsqlc.User, error) {
	if len(m.UserIDs) == 0 && len(m.Emails) == 0 {
		return nil, invalid("user_ids", "Give user_ids or emails.", map[string]string{"user_ids": "required without emails"})
	}
	ids, err := parseUUIDs("user_ids", m.UserIDs)
	if err != nil {
		return nil, err
	}
	users, err := db.Q.UserFindMany(ctx, q, &dbsqlc.UserFindManyParams{Uuids: ids, Emails: nonNil(m.Emails)})
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]bool{}
	byEmail := map[string]bool{}
	for _, u := range users {
		byID[u.Uuid] = true
		byEmail[u.Email] = true
	}
	var missing []string
	for _, id := range ids {
		if !byID[id] {
			missing = append(missing, id.String())
		}
	}
	for _, e := range m.Emails {
		if !byEmail[e] {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return nil, notFound("user", strings.Join(missing, ", "))
	}
	return users, nil
}

func userIDs(users []*dbsqlc.User) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(users))
	for _, u := range users {
		out = append(out, u.Uuid)
	}
	return out
}
