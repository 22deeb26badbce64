package adminsvc

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// UserCreate is a new user (create_user's UserInput plus its email). Nil fields take their
// defaults: user name from the e-mail address, status active, the caller's domain, role
// user, policy "default".
type UserCreate struct {
	Email              string
	Username           *string
	Password           string
	FullName           *string
	Description        *string
	Status             *dbsqlc.UserStatus
	DomainName         *string
	Role               *dbsqlc.UserRole
	NeedPasswordChange *bool
	ResourcePolicy     *string
	GroupIDs           []string
	AllowedClientIP    []string
	TotpActivated      *bool
	SudoSessionEnabled *bool
}

// UserModify changes a user (modify_user's ModifyUserInput): nil fields stay. GroupIDs
// non-nil replaces the memberships ([] leaves every project); AllowedClientIP non-nil
// replaces the addresses ([] means anywhere); MainAccessKey must be one of the user's own
// keypairs.
type UserModify struct {
	Username           *string
	Password           *string
	FullName           *string
	Description        *string
	Status             *dbsqlc.UserStatus
	DomainName         *string
	Role               *dbsqlc.UserRole
	NeedPasswordChange *bool
	ResourcePolicy     *string
	GroupIDs           []string
	AllowedClientIP    []string
	TotpActivated      *bool
	SudoSessionEnabled *bool
	MainAccessKey      *string
}

// UserGroup is a project a user is a member of.
type UserGroup struct {
	ID   uuid.UUID
	Name string
}

// User is a written user with their projects.
type User struct {
	User   *dbsqlc.User
	Groups []UserGroup
}

// UserCreated is a created user with their generated main keypair (secret included).
type UserCreated struct {
	User
	Keypair *dbsqlc.Keypair
}

// checkProjectsInDomain requires every project of ids to lie in domain.
func checkProjectsInDomain(ctx context.Context, q db.DBTX, domain string, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := db.Q.GroupIDsInDomain(ctx, q, &dbsqlc.GroupIDsInDomainParams{DomainName: domain, IDs: ids})
	if err != nil {
		return err
	}
	have := map[uuid.UUID]bool{}
	for _, id := range found {
		have[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id.String())
		}
	}
	if len(missing) > 0 {
		return invalid("group_ids", "group_ids: no such project in domain "+domain, map[string]any{"group_ids": missing})
	}
	return nil
}

// userWithGroups reads the projects of u.
func userWithGroups(ctx context.Context, q db.DBTX, u *dbsqlc.User) (User, error) {
	gs, err := db.Q.AssociationGroupsUsersGroupsOfUsers(ctx, q, []uuid.UUID{u.Uuid})
	if err != nil {
		return User{}, fromDB(err, "project")
	}
	out := User{User: u, Groups: make([]UserGroup, 0, len(gs))}
	for _, g := range gs {
		out.Groups = append(out.Groups, UserGroup{ID: g.ID, Name: g.Name})
	}
	return out, nil
}

// CreateUser creates a user with a generated main keypair (is_admin for admins and
// superadmins, policy "default", rate limit DefaultRateLimit), joined to the projects of
// GroupIDs, which must lie in the user's domain, and to the model-store projects of that
// domain. Superadmins only.
func (s *Service) CreateUser(ctx context.Context, c Caller, in UserCreate) (*UserCreated, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireUserManager(c); err != nil {
		return nil, err
	}
	if err := checkEmail("email", in.Email); err != nil {
		return nil, err
	}
	domain := deref(in.DomainName, c.Domain)
	role := deref(in.Role, dbsqlc.UserRoleUser)
	groupIDs, err := parseUUIDs("group_ids", in.GroupIDs)
	if err != nil {
		return nil, err
	}
	ips, err := parseClientIPs(in.AllowedClientIP)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		ips = nil
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	username := in.Username
	if username == nil {
		local, _, _ := strings.Cut(in.Email, "@")
		username = &local
	}
	status := deref(in.Status, dbsqlc.UserStatusActive)
	now := s.now()
	var out UserCreated
	err = db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		if err := checkProjectsInDomain(ctx, tx, domain, groupIDs); err != nil {
			return err
		}
		u, err := db.Q.UserInsert(ctx, tx, &dbsqlc.UserInsertParams{
			Username:           username,
			Email:              in.Email,
			Password:           &hash,
			NeedPasswordChange: deref(in.NeedPasswordChange, false),
			PasswordChangedAt:  &now,
			FullName:           in.FullName,
			Description:        in.Description,
			Status:             status,
			DomainName:         domain,
			Role:               role,
			AllowedClientIp:    ips,
			ResourcePolicy:     deref(in.ResourcePolicy, defaultPolicy),
		})
		if err != nil {
			return fromDB(err, "user")
		}
		kp, err := insertKeypair(ctx, tx, newKeypair{
			user:           u,
			isActive:       status == dbsqlc.UserStatusActive,
			isAdmin:        isAdminRole(role),
			resourcePolicy: defaultPolicy,
			rateLimit:      DefaultRateLimit,
		})
		if err != nil {
			return fromDB(err, "keypair")
		}
		if in.TotpActivated != nil || in.SudoSessionEnabled != nil {
			if err := db.Q.UserSetFlags(ctx, tx, &dbsqlc.UserSetFlagsParams{
				Uuid: u.Uuid, TotpActivated: in.TotpActivated, SudoSessionEnabled: in.SudoSessionEnabled,
			}); err != nil {
				return err
			}
		}
		if u, err = db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{Uuid: u.Uuid, MainAccessKey: &kp.AccessKey}); err != nil {
			return err
		}
		modelStores, err := db.Q.GroupIDsOfTypeInDomain(ctx, tx, &dbsqlc.GroupIDsOfTypeInDomainParams{
			DomainName: domain, Type: dbsqlc.ProjectTypeModelStore,
		})
		if err != nil {
			return err
		}
		groupIDs = appendMissing(groupIDs, modelStores...)
		if len(groupIDs) > 0 {
			if _, err := db.Q.AssociationGroupsUsersAddGroups(ctx, tx, &dbsqlc.AssociationGroupsUsersAddGroupsParams{UserID: u.Uuid, GroupIds: groupIDs}); err != nil {
				return err
			}
		}
		if out.User, err = userWithGroups(ctx, tx, u); err != nil {
			return err
		}
		out.Keypair = kp
		return nil
	})
	if err != nil {
		return nil, fromDB(err, "user")
	}
	return &out, nil
}

// ModifyUser changes the fields given of the user named by id or e-mail address. A role
// change sets is_admin on all their keypairs; leaving active deactivates them, returning to
// active reactivates the main one; a domain change ends memberships outside the new domain.
// Superadmins only.
func (s *Service) ModifyUser(ctx context.Context, c Caller, user string, in UserModify) (*User, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireUserManager(c); err != nil {
		return nil, err
	}
	params := &dbsqlc.UserUpdateParams{
		Username:           in.Username,
		FullName:           in.FullName,
		Description:        in.Description,
		DomainName:         in.DomainName,
		NeedPasswordChange: in.NeedPasswordChange,
		ResourcePolicy:     in.ResourcePolicy,
		Role:               in.Role,
	}
	if in.Status != nil {
		info := statusInfoAdmin
		params.Status, params.StatusInfo = in.Status, &info
	}
	if in.AllowedClientIP != nil {
		ips, err := parseClientIPs(in.AllowedClientIP)
		if err != nil {
			return nil, err
		}
		params.SetAllowedClientIp = true
		if len(ips) > 0 {
			params.AllowedClientIp = ips
		}
	}
	groupIDs, err := parseUUIDs("group_ids", in.GroupIDs)
	if err != nil {
		return nil, err
	}
	if in.Password != nil {
		hash, err := s.hashPassword(*in.Password)
		if err != nil {
			return nil, err
		}
		now := s.now()
		params.Password, params.PasswordChangedAt = &hash, &now
	}
	var out User
	err = db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		old, err := lookupUser(ctx, tx, user)
		if err != nil {
			return err
		}
		if in.MainAccessKey != nil {
			if err := checkMainAccessKey(ctx, tx, old, *in.MainAccessKey); err != nil {
				return err
			}
		}
		params.Uuid = old.Uuid
		u, err := db.Q.UserUpdate(ctx, tx, params)
		if err != nil {
			return fromDB(err, "user")
		}
		if in.MainAccessKey != nil {
			if u, err = db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{Uuid: u.Uuid, MainAccessKey: in.MainAccessKey}); err != nil {
				return err
			}
		}
		if in.TotpActivated != nil || in.SudoSessionEnabled != nil {
			if err := db.Q.UserSetFlags(ctx, tx, &dbsqlc.UserSetFlagsParams{
				Uuid: u.Uuid, TotpActivated: in.TotpActivated, SudoSessionEnabled: in.SudoSessionEnabled,
			}); err != nil {
				return err
			}
		}
		if isAdminRole(old.Role) != isAdminRole(u.Role) {
			if err := db.Q.KeypairSetAdminByUser(ctx, tx, &dbsqlc.KeypairSetAdminByUserParams{UserUuid: u.Uuid, IsAdmin: isAdminRole(u.Role)}); err != nil {
				return err
			}
		}
		if err := syncKeypairsWithStatus(ctx, tx, old.Status, u); err != nil {
			return err
		}
		if u.DomainName != old.DomainName {
			if err := db.Q.AssociationGroupsUsersRemoveOutsideDomain(ctx, tx, &dbsqlc.AssociationGroupsUsersRemoveOutsideDomainParams{
				UserID: u.Uuid, DomainName: u.DomainName,
			}); err != nil {
				return err
			}
		}
		if in.GroupIDs != nil {
			if err := checkProjectsInDomain(ctx, tx, u.DomainName, groupIDs); err != nil {
				return err
			}
			if err := db.Q.AssociationGroupsUsersRemoveByUser(ctx, tx, u.Uuid); err != nil {
				return err
			}
			if _, err := db.Q.AssociationGroupsUsersAddGroups(ctx, tx, &dbsqlc.AssociationGroupsUsersAddGroupsParams{UserID: u.Uuid, GroupIds: groupIDs}); err != nil {
				return err
			}
		}
		out, err = userWithGroups(ctx, tx, u)
		return err
	})
	if err != nil {
		return nil, fromDB(err, "user")
	}
	return &out, nil
}

// syncKeypairsWithStatus deactivates all of u's keypairs when u leaves the active status, and
// reactivates the main one when u returns to it.
func syncKeypairsWithStatus(ctx context.Context, tx pgx.Tx, before dbsqlc.UserStatus, u *dbsqlc.User) error {
	switch {
	case u.Status == before:
		return nil
	case u.Status != dbsqlc.UserStatusActive:
		return db.Q.KeypairSetActiveByUser(ctx, tx, &dbsqlc.KeypairSetActiveByUserParams{UserUuid: u.Uuid, IsActive: false})
	case u.MainAccessKey != nil:
		active := true
		_, err := db.Q.KeypairUpdate(ctx, tx, &dbsqlc.KeypairUpdateParams{AccessKey: *u.MainAccessKey, IsActive: &active})
		return err
	}
	return nil
}

// DeleteUser marks the user named by id or e-mail address deleted and deactivates all their
// keypairs, or with purge deletes them, their keypairs and memberships for good. Callers
// cannot delete themselves; purging is refused while the user has kernels that have not
// ended, and removes their ended sessions. Superadmins only.
func (s *Service) DeleteUser(ctx context.Context, c Caller, user string, purge bool) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireUserManager(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		u, err := lookupUser(ctx, tx, user)
		if err != nil {
			return err
		}
		if u.Uuid == c.UserUUID {
			return invalid("user", "You cannot delete yourself.", map[string]string{"user": user})
		}
		if purge {
			active, err := db.Q.UserActiveKernels(ctx, tx, u.Uuid)
			if err != nil {
				return err
			}
			if active > 0 {
				return inUse("user", "User has some active kernels. Terminate them first.", map[string]int64{"kernels": active})
			}
			if _, err := db.Q.UserDeleteSessions(ctx, tx, u.Uuid); err != nil {
				return err
			}
			if err := db.Q.UserClearMainAccessKey(ctx, tx, u.Uuid); err != nil {
				return err
			}
			_, err = db.Q.UserDelete(ctx, tx, u.Uuid)
			return err
		}
		status, info := dbsqlc.UserStatusDeleted, statusInfoAdmin
		if _, err := db.Q.UserUpdate(ctx, tx, &dbsqlc.UserUpdateParams{Uuid: u.Uuid, Status: &status, StatusInfo: &info}); err != nil {
			return err
		}
		return db.Q.KeypairSetActiveByUser(ctx, tx, &dbsqlc.KeypairSetActiveByUserParams{UserUuid: u.Uuid, IsActive: false})
	})
	return fromDB(err, "user")
}

// checkMainAccessKey requires accessKey to be one of u's keypairs (Backend.AI's texts).
func checkMainAccessKey(ctx context.Context, tx pgx.Tx, u *dbsqlc.User, accessKey string) error {
	row, err := db.Q.KeypairGetByAccessKey(ctx, tx, accessKey)
	if err != nil {
		if IsKind(fromDB(err, "keypair"), KindNotFound) {
			return invalid("main_access_key", "Cannot set non-existing access key as the main access key.",
				map[string]string{"main_access_key": "no such keypair"})
		}
		return err
	}
	if row.Keypair.User != u.Uuid {
		return invalid("main_access_key", "Cannot set another user's access key as the main access key.",
			map[string]string{"main_access_key": "another user's keypair"})
	}
	return nil
}

// appendMissing appends the ids of more that ids lacks.
func appendMissing(ids []uuid.UUID, more ...uuid.UUID) []uuid.UUID {
	for _, id := range more {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
