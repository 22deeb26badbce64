package admin

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// User is a user account. The password hash is never shown.
type User struct {
	UUID               uuid.UUID   `json:"uuid" doc:"User id." example:"dfa9da54-4b28-432f-be29-c0d680c7a412"`
	Email              string      `json:"email" doc:"E-mail address, unique; the login name." example:"user@lablup.com"`
	Username           *string     `json:"username" nullable:"true" doc:"User name, unique." example:"user"`
	FullName           *string     `json:"full_name" nullable:"true" doc:"Full name."`
	Description        *string     `json:"description" nullable:"true" doc:"Free-form description."`
	Status             string      `json:"status" enum:"active,inactive,deleted,before-verification" doc:"Account status; only active users' keypairs are active."`
	StatusInfo         *string     `json:"status_info" nullable:"true" doc:"Why the status was last set, e.g. admin-requested."`
	NeedPasswordChange bool        `json:"need_password_change" doc:"Whether the user must change the password at the next login."`
	PasswordChangedAt  *time.Time  `json:"password_changed_at" nullable:"true" doc:"When the password was last set."`
	CreatedAt          time.Time   `json:"created_at" doc:"When the user was created."`
	ModifiedAt         time.Time   `json:"modified_at" doc:"When the user was last changed."`
	DomainName         string      `json:"domain_name" doc:"Domain the user belongs to." example:"default"`
	Role               string      `json:"role" enum:"superadmin,admin,user,monitor" doc:"Role: superadmin (everything), admin (own domain), user, or monitor."`
	ResourcePolicy     string      `json:"resource_policy" doc:"User resource policy." example:"default"`
	AllowedClientIP    []string    `json:"allowed_client_ip" doc:"Addresses and CIDR networks the user may sign requests from; [] means anywhere."`
	TotpActivated      bool        `json:"totp_activated" doc:"Whether two-factor login (TOTP) is on."`
	SudoSessionEnabled bool        `json:"sudo_session_enabled" doc:"Whether the user's sessions may use sudo."`
	MainAccessKey      *string     `json:"main_access_key" nullable:"true" doc:"The access key the user signs requests with; requests signed with other keys are not authenticated."`
	IntegrationID      *string     `json:"integration_id" nullable:"true" doc:"Identifier of the user in an external system."`
	Groups             []UserGroup `json:"groups" doc:"Projects the user is a member of, by name."`
}

// UserGroup names a project a user is a member of.
type UserGroup struct {
	ID   uuid.UUID `json:"id" doc:"Project id."`
	Name string    `json:"name" doc:"Project name."`
}

// UserList is a page of users.
type UserList struct {
	Items      []User `json:"items" doc:"The users of this page, by e-mail address."`
	TotalCount int64  `json:"total_count" doc:"Number of users in all pages."`
}

type userOutput struct {
	Body User
}

// UserParam is the {user} path parameter of user operations.
type UserParam struct {
	User string `path:"user" minLength:"1" maxLength:"64" doc:"User id (uuid) or e-mail address."`
}

// userFromRow converts a database row; groups are the user's projects.
func userFromRow(r *dbsqlc.User, groups []UserGroup) User {
	return User{
		UUID:               r.Uuid,
		Email:              r.Email,
		Username:           r.Username,
		FullName:           r.FullName,
		Description:        r.Description,
		Status:             string(r.Status),
		StatusInfo:         r.StatusInfo,
		NeedPasswordChange: r.NeedPasswordChange,
		PasswordChangedAt:  r.PasswordChangedAt,
		CreatedAt:          r.CreatedAt,
		ModifiedAt:         r.ModifiedAt,
		DomainName:         r.DomainName,
		Role:               string(r.Role),
		ResourcePolicy:     r.ResourcePolicy,
		AllowedClientIP:    formatClientIPs(r.AllowedClientIp),
		TotpActivated:      r.TotpActivated,
		SudoSessionEnabled: r.SudoSessionEnabled,
		MainAccessKey:      r.MainAccessKey,
		IntegrationID:      r.IntegrationID,
		Groups:             nonNil(groups),
	}
}

// usersFromRows converts database rows, loading every user's projects in one query.
func usersFromRows(ctx context.Context, q db.DBTX, rows []*dbsqlc.User) ([]User, error) {
	ids := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.Uuid)
	}
	groups := map[uuid.UUID][]UserGroup{}
	if len(ids) > 0 {
		gs, err := db.Q.AssociationGroupsUsersGroupsOfUsers(ctx, q, ids)
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		for _, g := range gs {
			groups[g.UserID] = append(groups[g.UserID], UserGroup{ID: g.ID, Name: g.Name})
		}
	}
	out := make([]User, 0, len(rows))
	for _, r := range rows {
		out = append(out, userFromRow(r, groups[r.Uuid]))
	}
	return out, nil
}

// oneUser converts a single database row with its projects.
func oneUser(ctx context.Context, q db.DBTX, r *dbsqlc.User) (User, error) {
	us, err := usersFromRows(ctx, q, []*dbsqlc.User{r})
	if err != nil {
		return User{}, err
	}
	return us[0], nil
}

// userFromService converts a user the administration service wrote.
func userFromService(u adminsvc.User) User {
	groups := make([]UserGroup, 0, len(u.Groups))
	for _, g := range u.Groups {
		groups = append(groups, UserGroup{ID: g.ID, Name: g.Name})
	}
	return userFromRow(u.User, groups)
}
