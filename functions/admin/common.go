package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
)

// defaultPolicy names the resource policies new projects, users and keypairs get.
const defaultPolicy = "default"

// defaultRateLimit is the rate limit (requests per 15 minutes) of keypairs created without one.
const defaultRateLimit = 30000

// defaultBcryptCost is Backend.AI's bcrypt cost, used when Deps.BcryptCost is 0.
const defaultBcryptCost = 12

// PageParams are the query parameters of every list operation.
type PageParams struct {
	Limit  int32 `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Most items to return (1 to 100)."`
	Offset int32 `query:"offset" minimum:"0" default:"0" doc:"Items to skip, for paging."`
}

// noContent is the empty answer of a 204 operation.
type noContent struct{}

// optional is a query parameter that may be absent: Set tells an absent parameter from a
// zero value.
type optional[T any] struct {
	Value T
	Set   bool
}

// Schema implements huma.SchemaProvider: the schema of T.
func (o optional[T]) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[T](), true, "")
}

// Receiver implements huma.ParamWrapper.
func (o *optional[T]) Receiver() reflect.Value { return reflect.ValueOf(o).Elem().Field(0) }

// OnParamSet implements huma.ParamReactor.
func (o *optional[T]) OnParamSet(isSet bool, _ any) { o.Set = isSet }

// ptr returns the value when set, else nil.
func (o optional[T]) ptr() *T {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}

// strPtr returns nil for an empty string, else a pointer to s.
func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// deref returns *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// caller returns the authenticated caller; operations here are never public.
func caller(ctx context.Context) *functions.Identity {
	if id := functions.IdentityFrom(ctx); id != nil {
		return id
	}
	return &functions.Identity{}
}

// checkDomain allows superadmins everywhere and domain admins in their own domain.
func checkDomain(id *functions.Identity, domain string) error {
	switch {
	case id.IsSuperadmin():
		return nil
	case !id.IsDomainAdmin():
		return functions.ErrInsufficientPrivilege("Only superadmins and domain admins may do this.")
	case id.Domain() != domain:
		return functions.ErrInsufficientPrivilege(fmt.Sprintf("Domain admins act only within their own domain (%s).", id.Domain()))
	}
	return nil
}

// checkUser allows the caller to manage u: within the caller's domain, and superadmins only
// for superadmins.
func checkUser(id *functions.Identity, u *dbsqlc.User) error {
	return checkOwner(id, u.DomainName, u.Role)
}

// checkOwner is checkUser for a user known by domain and role.
func checkOwner(id *functions.Identity, domain string, role dbsqlc.UserRole) error {
	if err := checkDomain(id, domain); err != nil {
		return err
	}
	if !id.IsSuperadmin() && role == dbsqlc.UserRoleSuperadmin {
		return functions.ErrInsufficientPrivilege("Only superadmins may manage superadmins.")
	}
	return nil
}

// checkGrantRole allows only superadmins to grant the admin and superadmin roles.
func checkGrantRole(id *functions.Identity, role dbsqlc.UserRole) error {
	if !id.IsSuperadmin() && isAdminRole(role) {
		return functions.ErrInsufficientPrivilege("Only superadmins may grant the " + string(role) + " role.")
	}
	return nil
}

// isAdminRole reports whether a role gets is_admin keypairs.
func isAdminRole(role dbsqlc.UserRole) bool {
	return role == dbsqlc.UserRoleAdmin || role == dbsqlc.UserRoleSuperadmin
}

// domainFilter returns the domain a list is restricted to: the requested one (or none) for
// superadmins, the caller's own for domain admins, who may not ask for another.
func domainFilter(id *functions.Identity, requested string) (*string, error) {
	if id.IsSuperadmin() {
		return strPtr(requested), nil
	}
	own := id.Domain()
	if requested == "" {
		requested = own
	}
	if err := checkDomain(id, requested); err != nil {
		return nil, err
	}
	return &own, nil
}

// lookupUser finds a user by uuid or e-mail address; unknown users are 404.
func lookupUser(ctx context.Context, q db.DBTX, ref string) (*dbsqlc.User, error) {
	var (
		u   *dbsqlc.User
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		u, err = db.Q.UserGetByUUID(ctx, q, id)
	} else {
		u, err = db.Q.UserGetByEmail(ctx, q, ref)
	}
	if err != nil {
		return nil, functions.FromDB(err, "user")
	}
	return u, nil
}

// checkEmail rejects anything but a bare e-mail address.
func checkEmail(field, email string) error {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || strings.ContainsAny(email, " \t\r\n") {
		return functions.ErrInvalidAPIParams(field+": invalid e-mail address", map[string]string{field: "invalid e-mail address"})
	}
	return nil
}

// hashPassword hashes a password with bcrypt at the configured cost.
func hashPassword(s *functions.Server, pw string) (string, error) {
	cost := s.Deps().BcryptCost
	if cost == 0 {
		cost = defaultBcryptCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return "", functions.ErrInvalidAPIParams("password: too long (at most 72 bytes)", map[string]string{"password": "too long"})
	}
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// parseClientIPs reads allowed_client_ip: addresses or CIDR networks.
func parseClientIPs(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, raw := range in {
		raw = strings.TrimSpace(raw)
		if p, err := netip.ParsePrefix(raw); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(raw)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("allowed_client_ip: invalid address "+raw,
				map[string]string{"allowed_client_ip": "not an IP address or CIDR network: " + raw})
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// formatClientIPs writes allowed_client_ip back: single hosts as addresses, networks in CIDR.
func formatClientIPs(in []netip.Prefix) []string {
	out := make([]string, 0, len(in))
	for _, p := range in {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// slotTypes returns the known resource slots: the shared configuration's when there is one,
// else the intrinsic cpu and mem.
func slotTypes(s *functions.Server) map[string]string {
	if sh := s.Deps().Shared; sh != nil {
		if types := sh.ResourceSlots(); len(types) > 0 {
			return types
		}
	}
	return slots.Intrinsic()
}

// encodeSlots validates a resource slot map given in field and encodes it normalized for the
// database. Errors are 400 invalid-api-params naming the field and slot.
func encodeSlots(s *functions.Server, field string, in map[string]string) (json.RawMessage, error) {
	norm, err := slots.Normalize(in, slotTypes(s))
	if err != nil {
		key := field
		var se *slots.SlotError
		if errors.As(err, &se) {
			key = field + "." + se.Slot
		}
		return nil, functions.ErrInvalidAPIParams(field+": "+err.Error(), map[string]string{key: err.Error()})
	}
	raw, err := json.Marshal(norm)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", field, err)
	}
	return raw, nil
}

// decodeSlots reads a stored resource slot object with slots.DecodeMap; amounts stored as
// JSON numbers become decimal strings as written. It never returns a nil map.
func decodeSlots(raw json.RawMessage) (map[string]string, error) {
	return slots.DecodeMap(raw)
}

// nonNil returns s, or an empty slice for nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
