package adminsvc

import (
	"context"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
	"github.com/hangar-run/hangar/internal/names"
)

// DomainCreate is a new domain (create_domain's DomainInput). Nil fields take their defaults:
// active, no resource limit, no storage hosts, no registries.
type DomainCreate struct {
	Name                    string
	Description             *string
	IsActive                *bool
	TotalResourceSlots      map[string]string
	AllowedVfolderHosts     hostperm.Hosts
	AllowedDockerRegistries []string
	IntegrationID           *string
}

// DomainModify changes a domain (modify_domain's ModifyDomainInput): nil fields stay. Name
// renames the domain; its projects, users and associations follow.
type DomainModify struct {
	Name                    *string
	Description             *string
	IsActive                *bool
	TotalResourceSlots      map[string]string
	AllowedVfolderHosts     hostperm.Hosts
	AllowedDockerRegistries []string
	IntegrationID           *string
}

// CreateDomain creates a domain. Superadmins only.
func (s *Service) CreateDomain(ctx context.Context, c Caller, in DomainCreate) (*dbsqlc.Domain, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxShortName); err != nil {
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
	row, err := db.Q.DomainInsert(ctx, s.d.Pool, &dbsqlc.DomainInsertParams{
		Name:                    in.Name,
		Description:             in.Description,
		IsActive:                deref(in.IsActive, true),
		TotalResourceSlots:      total,
		AllowedVfolderHosts:     hosts,
		AllowedDockerRegistries: nonNil(in.AllowedDockerRegistries),
		IntegrationID:           in.IntegrationID,
	})
	if err != nil {
		return nil, fromDB(err, "domain")
	}
	return row, nil
}

// ModifyDomain changes the fields given of the domain name. Superadmins only.
func (s *Service) ModifyDomain(ctx context.Context, c Caller, name string, in DomainModify) (*dbsqlc.Domain, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := checkName("new_name", *in.Name, names.MaxShortName); err != nil {
			return nil, err
		}
	}
	params := &dbsqlc.DomainUpdateParams{
		Name:                    name,
		NewName:                 in.Name,
		Description:             in.Description,
		IsActive:                in.IsActive,
		AllowedDockerRegistries: in.AllowedDockerRegistries,
		IntegrationID:           in.IntegrationID,
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
	row, err := db.Q.DomainUpdate(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, "domain")
	}
	return row, nil
}

// DeleteDomain deactivates the domain name. Superadmins only.
func (s *Service) DeleteDomain(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	inactive := false
	if _, err := db.Q.DomainUpdate(ctx, s.d.Pool, &dbsqlc.DomainUpdateParams{Name: name, IsActive: &inactive}); err != nil {
		return fromDB(err, "domain")
	}
	return nil
}

// PurgeDomain deletes the domain name and its scaling group associations for good; refused
// (KindConflict, with Backend.AI's texts) while kernels run in it or users or projects remain
// in it. Superadmins only.
func (s *Service) PurgeDomain(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		if _, err := db.Q.DomainLock(ctx, tx, name); err != nil {
			return err
		}
		active, err := db.Q.DomainActiveKernels(ctx, tx, name)
		if err != nil {
			return err
		}
		if active > 0 {
			return inUse("domain", "Domain has some active kernels. Terminate them first.", map[string]int64{"kernels": active})
		}
		use, err := db.Q.DomainUsage(ctx, tx, name)
		if err != nil {
			return err
		}
		data := map[string]int64{"users": use.Users, "projects": use.Projects}
		switch {
		case use.Users > 0:
			return inUse("domain", "There are users bound to the domain. Remove users first.", data)
		case use.Projects > 0:
			return inUse("domain", "There are groups bound to the domain. Remove groups first.", data)
		}
		_, err = db.Q.DomainDelete(ctx, tx, name)
		return err
	})
	return fromDB(err, "domain")
}

// inUse is the KindConflict refusal of a purge: the object still has dependants.
func inUse(object, msg string, data any) *Error {
	return &Error{Kind: KindConflict, Object: object, Msg: msg, Data: data}
}
