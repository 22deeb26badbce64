package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
)

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

// formatClientIPs writes allowed_client_ip back: single hosts as addresses, networks in CIDR.
func formatClientIPs(in []netip.Prefix) []string { return adminsvc.FormatClientIPs(in) }

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

// svcCaller is the caller of an operation as the administration service sees it.
func svcCaller(ctx context.Context) adminsvc.Caller {
	return functions.ServiceCaller(functions.IdentityFrom(ctx))
}
