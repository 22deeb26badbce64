package functions

import (
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// AdminService returns the administration service over the server's dependencies: the admin
// REST operations and the GraphQL mutations call it, so their rules are written once.
func (s *Server) AdminService() *adminsvc.Service { return NewAdminService(s.Deps()) }

// NewAdminService returns the administration service over d (the GraphQL resolvers hold only
// the Deps).
func NewAdminService(d *Deps) *adminsvc.Service {
	sd := adminsvc.Deps{
		Pool:       d.Pool,
		BcryptCost: d.BcryptCost,
		Now:        d.Clock,
		Enqueuer:   d.Enqueuer,
	}
	if d.Shared != nil {
		sd.ManagerStatus = d.Shared.ManagerStatus
		sd.SlotTypes = d.Shared.ResourceSlots
	}
	return adminsvc.New(sd)
}

// ServiceCaller is the caller of an authenticated operation as the administration service
// sees it.
func ServiceCaller(id *Identity) adminsvc.Caller {
	if id == nil {
		return adminsvc.Caller{}
	}
	return adminsvc.Caller{
		UserUUID:  id.User.Uuid,
		AccessKey: id.AccessKey,
		Role:      id.User.Role,
		Domain:    id.User.DomainName,
		AdminKey:  id.Keypair.IsAdmin,
	}
}

// FromService maps an error of the administration service to its Backend.AI problem: the one
// place the REST side turns service refusals into problem+json. Refusals caused by a database
// error answer as FromDB does; other errors pass through FromDB.
func FromService(err error) error {
	e := adminsvc.AsError(err)
	if e == nil {
		return FromDB(err, "")
	}
	if e.Err != nil {
		return FromDB(e.Err, e.Object)
	}
	switch e.Kind {
	case adminsvc.KindInvalid, adminsvc.KindConflict:
		return ErrInvalidAPIParams(e.Msg, e.Data)
	case adminsvc.KindNotFound:
		return ErrObjectNotFound(e.Object, e.Msg)
	case adminsvc.KindForbidden:
		return ErrInsufficientPrivilege(e.Msg)
	case adminsvc.KindFrozen:
		return ErrServerFrozen()
	case adminsvc.KindUnavailable:
		return ErrServiceUnavailable(e.Msg)
	}
	return ErrInternal("")
}

// ServiceGuarded marks the write operations whose frozen check the administration service
// makes itself (it refuses with 503 server-frozen as the pipeline would): the pipeline lets
// them through whatever the manager status. List http.StatusServiceUnavailable in their
// Errors so the document still shows the 503.
const ServiceGuarded = FrozenIgnored
