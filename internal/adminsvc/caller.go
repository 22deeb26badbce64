package adminsvc

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
	"github.com/hangar-run/hangar/jobs"
)

// Caller is who asks for a mutation: the authenticated user and the keypair they signed with.
type Caller struct {
	UserUUID  uuid.UUID
	AccessKey string
	Role      dbsqlc.UserRole
	Domain    string
	// AdminKey is the signing keypair's is_admin flag (Backend.AI's admin flag): a user whose
	// role is admin acts as a domain admin only with such a keypair.
	AdminKey bool
}

// IsSuperadmin reports whether the caller's role is superadmin.
func (c Caller) IsSuperadmin() bool { return c.Role == dbsqlc.UserRoleSuperadmin }

// IsDomainAdmin reports whether the caller is a domain admin: role admin, signing with an
// admin keypair.
func (c Caller) IsDomainAdmin() bool { return c.Role == dbsqlc.UserRoleAdmin && c.AdminKey }

// Deps is what the service needs. Only Pool is required.
type Deps struct {
	Pool *pgxpool.Pool
	// ManagerStatus is the manager status of the shared configuration ("running", "frozen",
	// ...); nil or "" counts as running.
	ManagerStatus func() string
	// SlotTypes are the known resource slots (slot → type); nil or empty means the intrinsic
	// cpu and mem.
	SlotTypes func() map[string]string
	// BcryptCost hashes new passwords (0 means 12, Backend.AI's rounds).
	BcryptCost int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Enqueuer enqueues background tasks (image rescans).
	Enqueuer *jobs.Enqueuer
}

// Service runs the administration mutations.
type Service struct {
	d Deps
}

// New returns a Service over d.
func New(d Deps) *Service { return &Service{d: d} }

func (s *Service) now() time.Time {
	if s.d.Now != nil {
		return s.d.Now()
	}
	return time.Now()
}

func (s *Service) slotTypes() map[string]string {
	if s.d.SlotTypes != nil {
		if t := s.d.SlotTypes(); len(t) > 0 {
			return t
		}
	}
	return slots.Intrinsic()
}

// Writable refuses while the manager is not running: KindFrozen while frozen, KindUnavailable
// in the legacy statuses. Every mutation calls it first.
func (s *Service) Writable() error {
	if s.d.ManagerStatus == nil {
		return nil
	}
	switch st := s.d.ManagerStatus(); st {
	case "", "running":
		return nil
	case "frozen":
		return &Error{Kind: KindFrozen, Msg: FrozenMessage}
	default:
		return &Error{Kind: KindUnavailable, Msg: "Server is not in the required status: " + st}
	}
}

// begin is the common start of a mutation: the manager must be running.
func (s *Service) begin(_ context.Context) error { return s.Writable() }

// requireSuperadmin allows superadmins only.
func requireSuperadmin(c Caller) error {
	if !c.IsSuperadmin() {
		return forbidden("Only superadmins may do this.")
	}
	return nil
}

// checkDomain allows superadmins everywhere and domain admins in their own domain.
func checkDomain(c Caller, domain string) error {
	switch {
	case c.IsSuperadmin():
		return nil
	case !c.IsDomainAdmin():
		return forbidden("Only superadmins and domain admins may do this.")
	case c.Domain != domain:
		return forbidden("Domain admins act only within their own domain (" + c.Domain + ").")
	}
	return nil
}

// ManagesUsers reports whether the caller may write users and keypairs (superadmins only).
func (c Caller) ManagesUsers() bool { return c.IsSuperadmin() }

// requireUserManager allows the callers who may write users and keypairs.
func requireUserManager(c Caller) error {
	if !c.ManagesUsers() {
		return forbidden("Only superadmins may do this.")
	}
	return nil
}

// ManagesProjects reports whether the caller may manage projects and their members at all
// (superadmins; domain admins, within their own domain).
func (c Caller) ManagesProjects() bool { return c.IsSuperadmin() || c.IsDomainAdmin() }

// requireAdmin allows superadmins and domain admins (the domain is checked once known).
func requireAdmin(c Caller) error {
	if !c.ManagesProjects() {
		return forbidden("Only superadmins and domain admins may do this.")
	}
	return nil
}

// isAdminRole reports whether a role gets is_admin keypairs.
func isAdminRole(role dbsqlc.UserRole) bool {
	return role == dbsqlc.UserRoleAdmin || role == dbsqlc.UserRoleSuperadmin
}

func containsStillReferenced(detail string) bool {
	return strings.Contains(detail, "is still referenced")
}
