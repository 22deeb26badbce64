package adminsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/names"
)

// SchedulerOpts are a scaling group's scheduler options as given; nil fields take their
// defaults (allowed_session_types ["interactive", "batch"], pending_timeout 0, config {},
// agent_selection_strategy "dispersed", roundrobin false). Unknown options are dropped.
type SchedulerOpts struct {
	AllowedSessionTypes    []string       `json:"allowed_session_types,omitempty"`
	PendingTimeout         *float64       `json:"pending_timeout,omitempty"`
	Config                 map[string]any `json:"config,omitempty"`
	AgentSelectionStrategy *string        `json:"agent_selection_strategy,omitempty"`
	Roundrobin             *bool          `json:"roundrobin,omitempty"`
}

// ResolvedSchedulerOpts are scheduler options with every default filled in, as stored.
type ResolvedSchedulerOpts struct {
	AllowedSessionTypes    []string       `json:"allowed_session_types"`
	PendingTimeout         float64        `json:"pending_timeout"`
	Config                 map[string]any `json:"config"`
	AgentSelectionStrategy string         `json:"agent_selection_strategy"`
	Roundrobin             bool           `json:"roundrobin"`
}

// Resolve fills the defaults in.
func (in SchedulerOpts) Resolve() ResolvedSchedulerOpts {
	out := ResolvedSchedulerOpts{
		AllowedSessionTypes:    slices.Clone(in.AllowedSessionTypes),
		PendingTimeout:         deref(in.PendingTimeout, 0),
		Config:                 in.Config,
		AgentSelectionStrategy: deref(in.AgentSelectionStrategy, "dispersed"),
		Roundrobin:             deref(in.Roundrobin, false),
	}
	if out.AllowedSessionTypes == nil {
		out.AllowedSessionTypes = []string{"interactive", "batch"}
	}
	if out.Config == nil {
		out.Config = map[string]any{}
	}
	return out
}

// DecodeSchedulerOpts reads scheduler options from JSON text (stored, or given as a GraphQL
// JSONString); a key of the wrong type is KindInvalid naming it.
func DecodeSchedulerOpts(raw []byte) (SchedulerOpts, error) {
	var in SchedulerOpts
	if len(raw) == 0 || string(raw) == "null" {
		return in, nil
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		key := "scheduler_opts"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			key += "." + te.Field
		}
		return in, invalid(key, key+": "+err.Error(), map[string]string{key: err.Error()})
	}
	return in, nil
}

// encodeSchedulerOpts validates scheduler options and stores them with every default filled
// in; nil gives the defaults.
func encodeSchedulerOpts(in *SchedulerOpts) (json.RawMessage, error) {
	var opts SchedulerOpts
	if in != nil {
		opts = *in
	}
	seen := map[string]bool{}
	for _, t := range opts.AllowedSessionTypes {
		switch t {
		case "interactive", "batch", "inference":
		default:
			return nil, invalid("scheduler_opts.allowed_session_types", "scheduler_opts.allowed_session_types: unknown session type "+t,
				map[string]string{"scheduler_opts.allowed_session_types": "unknown session type " + t})
		}
		if seen[t] {
			return nil, invalid("scheduler_opts.allowed_session_types", "scheduler_opts.allowed_session_types: "+t+" is given twice",
				map[string]string{"scheduler_opts.allowed_session_types": "duplicate " + t})
		}
		seen[t] = true
	}
	if opts.AllowedSessionTypes != nil && len(opts.AllowedSessionTypes) == 0 {
		return nil, invalid("scheduler_opts.allowed_session_types", "scheduler_opts.allowed_session_types: give at least one session type",
			map[string]string{"scheduler_opts.allowed_session_types": "empty"})
	}
	if opts.PendingTimeout != nil && !(*opts.PendingTimeout >= 0) {
		return nil, invalid("scheduler_opts.pending_timeout", "scheduler_opts.pending_timeout: must not be negative",
			map[string]string{"scheduler_opts.pending_timeout": "must not be negative"})
	}
	if v := opts.AgentSelectionStrategy; v != nil {
		switch *v {
		case "dispersed", "concentrated", "legacy":
		default:
			return nil, invalid("scheduler_opts.agent_selection_strategy", "scheduler_opts.agent_selection_strategy: unknown strategy "+*v,
				map[string]string{"scheduler_opts.agent_selection_strategy": "must be dispersed, concentrated or legacy"})
		}
	}
	raw, err := json.Marshal(opts.Resolve())
	if err != nil {
		return nil, fmt.Errorf("encode scheduler_opts: %w", err)
	}
	return raw, nil
}

// checkScheduler accepts the queueing algorithms the scheduler knows.
func checkScheduler(v *string) error {
	if v == nil {
		return nil
	}
	switch *v {
	case "fifo", "lifo", "drf", "mof":
		return nil
	}
	return invalid("scheduler", "scheduler: unknown scheduler "+*v+" (fifo, lifo, drf or mof)",
		map[string]string{"scheduler": "must be fifo, lifo, drf or mof"})
}

// encodeDriverOpts stores driver options; nil becomes {}.
func encodeDriverOpts(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		m = map[string]any{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, invalid("driver_opts", "driver_opts: cannot encode object", map[string]string{"driver_opts": err.Error()})
	}
	return raw, nil
}

// checkDriver accepts a driver name of 1 to 64 characters.
func checkDriver(v *string) error {
	if v != nil && (*v == "" || len(*v) > 64) {
		return invalid("driver", "driver: must be 1 to 64 characters", map[string]string{"driver": "must be 1 to 64 characters"})
	}
	return nil
}

// ScalingGroupCreate is a new scaling group (create_scaling_group's input). Nil fields take
// their defaults: active, public, no app proxy, driver static with no options, scheduler fifo
// with the default options, no host network.
type ScalingGroupCreate struct {
	Name            string
	Description     *string
	IsActive        *bool
	IsPublic        *bool
	WsproxyAddr     *string
	WsproxyAPIToken *string
	Driver          *string
	DriverOpts      map[string]any
	Scheduler       *string
	UseHostNetwork  *bool
	SchedulerOpts   *SchedulerOpts
}

// ScalingGroupModify changes a scaling group: nil fields stay. The nullable columns change
// only when their Set flag is true (a nil value then clears them); DriverOpts and
// SchedulerOpts are replaced as a whole.
type ScalingGroupModify struct {
	SetDescription     bool
	Description        *string
	IsActive           *bool
	IsPublic           *bool
	SetWsproxyAddr     bool
	WsproxyAddr        *string
	SetWsproxyAPIToken bool
	WsproxyAPIToken    *string
	Driver             *string
	DriverOpts         map[string]any
	Scheduler          *string
	UseHostNetwork     *bool
	SchedulerOpts      *SchedulerOpts
}

const objScalingGroup = "scaling group"

// CreateScalingGroup creates a scaling group. Superadmins only.
func (s *Service) CreateScalingGroup(ctx context.Context, c Caller, in ScalingGroupCreate) (*dbsqlc.ScalingGroup, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := firstErr(checkName("name", in.Name, names.MaxShortName), checkDriver(in.Driver), checkScheduler(in.Scheduler)); err != nil {
		return nil, err
	}
	driverOpts, err := encodeDriverOpts(in.DriverOpts)
	if err != nil {
		return nil, err
	}
	schedOpts, err := encodeSchedulerOpts(in.SchedulerOpts)
	if err != nil {
		return nil, err
	}
	row, err := db.Q.ScalingGroupInsert(ctx, s.d.Pool, &dbsqlc.ScalingGroupInsertParams{
		Name:            in.Name,
		Description:     in.Description,
		IsActive:        deref(in.IsActive, true),
		IsPublic:        deref(in.IsPublic, true),
		WsproxyAddr:     in.WsproxyAddr,
		WsproxyApiToken: in.WsproxyAPIToken,
		Driver:          deref(in.Driver, "static"),
		DriverOpts:      driverOpts,
		Scheduler:       deref(in.Scheduler, "fifo"),
		UseHostNetwork:  deref(in.UseHostNetwork, false),
		SchedulerOpts:   schedOpts,
	})
	if err != nil {
		return nil, fromDB(err, objScalingGroup)
	}
	return row, nil
}

// ModifyScalingGroup changes the fields given of the scaling group name. Superadmins only.
func (s *Service) ModifyScalingGroup(ctx context.Context, c Caller, name string, in ScalingGroupModify) (*dbsqlc.ScalingGroup, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := firstErr(checkDriver(in.Driver), checkScheduler(in.Scheduler)); err != nil {
		return nil, err
	}
	params := &dbsqlc.ScalingGroupUpdateParams{
		Name:               name,
		SetDescription:     in.SetDescription,
		Description:        in.Description,
		IsActive:           in.IsActive,
		IsPublic:           in.IsPublic,
		SetWsproxyAddr:     in.SetWsproxyAddr,
		WsproxyAddr:        in.WsproxyAddr,
		SetWsproxyApiToken: in.SetWsproxyAPIToken,
		WsproxyApiToken:    in.WsproxyAPIToken,
		Driver:             in.Driver,
		Scheduler:          in.Scheduler,
		UseHostNetwork:     in.UseHostNetwork,
	}
	var err error
	if in.DriverOpts != nil {
		if params.DriverOpts, err = encodeDriverOpts(in.DriverOpts); err != nil {
			return nil, err
		}
	}
	if in.SchedulerOpts != nil {
		if params.SchedulerOpts, err = encodeSchedulerOpts(in.SchedulerOpts); err != nil {
			return nil, err
		}
	}
	row, err := db.Q.ScalingGroupUpdate(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, objScalingGroup)
	}
	return row, nil
}

// DeleteScalingGroup deletes the scaling group name with its associations. A group with
// agents registered in it, or still referred to by sessions, is refused (KindConflict).
// Superadmins only.
func (s *Service) DeleteScalingGroup(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		agents, err := db.Q.ScalingGroupCountAgents(ctx, tx, name)
		if err != nil {
			return err
		}
		if agents > 0 {
			return &Error{Kind: KindConflict, Object: objScalingGroup,
				Msg:  fmt.Sprintf("The scaling group is still in use: %d agent(s) are registered in it.", agents),
				Data: map[string]any{"agents": agents}}
		}
		n, err := db.Q.ScalingGroupDelete(ctx, tx, name)
		return deleted(n, err, objScalingGroup)
	})
	return fromDB(err, objScalingGroup)
}

// loadScalingGroup checks that the scaling group name exists.
func loadScalingGroup(ctx context.Context, q db.DBTX, name string) error {
	if _, err := db.Q.ScalingGroupGetByName(ctx, q, name); err != nil {
		return fromDB(err, objScalingGroup)
	}
	return nil
}

// The associations of a scaling group, as named in errors.
const (
	objDomainAssoc  = "domain association"
	objProjectAssoc = "project association"
	objKeypairAssoc = "keypair association"
)

// AssociateScalingGroupWithDomain lets every user of domain use the scaling group sg. It
// reports whether the association is new (an existing one is left as it is). Superadmins
// only.
func (s *Service) AssociateScalingGroupWithDomain(ctx context.Context, c Caller, sg, domain string) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	if err := requireSuperadmin(c); err != nil {
		return false, err
	}
	var added bool
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		if err := loadScalingGroup(ctx, tx, sg); err != nil {
			return err
		}
		ok, err := db.Q.SgroupsForDomainsDomainExists(ctx, tx, domain)
		if err != nil {
			return fromDB(err, "domain")
		}
		if !ok {
			return notFound("domain", "")
		}
		n, err := db.Q.SgroupsForDomainsInsertNew(ctx, tx, &dbsqlc.SgroupsForDomainsInsertNewParams{ScalingGroup: sg, Domain: domain})
		added = n > 0
		return fromDB(err, objDomainAssoc)
	})
	return added, err
}

// ProjectAssociation is a project associated with a scaling group.
type ProjectAssociation struct {
	Added   bool
	Project dbsqlc.SgroupsForGroupsTargetRow
}

// AssociateScalingGroupWithProject lets the members of project use the scaling group sg for
// its sessions; Added tells whether the association is new. Superadmins only.
func (s *Service) AssociateScalingGroupWithProject(ctx context.Context, c Caller, sg string, project uuid.UUID) (*ProjectAssociation, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	var out ProjectAssociation
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		if err := loadScalingGroup(ctx, tx, sg); err != nil {
			return err
		}
		p, err := db.Q.SgroupsForGroupsTarget(ctx, tx, project)
		if err != nil {
			return fromDB(err, "project")
		}
		out.Project = *p
		n, err := db.Q.SgroupsForGroupsInsertNew(ctx, tx, &dbsqlc.SgroupsForGroupsInsertNewParams{ScalingGroup: sg, ProjectID: project})
		out.Added = n > 0
		return fromDB(err, objProjectAssoc)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// KeypairAssociation is a keypair associated with a scaling group.
type KeypairAssociation struct {
	Added   bool
	Keypair dbsqlc.SgroupsForKeypairsTargetRow
}

// AssociateScalingGroupWithKeypair lets requests signed with keypair accessKey use the
// scaling group sg; Added tells whether the association is new. Superadmins only.
func (s *Service) AssociateScalingGroupWithKeypair(ctx context.Context, c Caller, sg, accessKey string) (*KeypairAssociation, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	var out KeypairAssociation
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		if err := loadScalingGroup(ctx, tx, sg); err != nil {
			return err
		}
		kp, err := db.Q.SgroupsForKeypairsTarget(ctx, tx, accessKey)
		if err != nil {
			return fromDB(err, "keypair")
		}
		out.Keypair = *kp
		n, err := db.Q.SgroupsForKeypairsInsertNew(ctx, tx, &dbsqlc.SgroupsForKeypairsInsertNewParams{ScalingGroup: sg, AccessKey: accessKey})
		out.Added = n > 0
		return fromDB(err, objKeypairAssoc)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// dissociated is the outcome of removing one association: KindNotFound when there was none.
func dissociated(n int64, err error, object, msg string) error {
	if err != nil {
		return fromDB(err, object)
	}
	if n == 0 {
		return notFound(object, msg)
	}
	return nil
}

// DisassociateScalingGroupWithDomain removes the association of domain with the scaling
// group sg; KindNotFound when the group is unknown or there is no such association.
// Superadmins only.
func (s *Service) DisassociateScalingGroupWithDomain(ctx context.Context, c Caller, sg, domain string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	if err := loadScalingGroup(ctx, s.d.Pool, sg); err != nil {
		return err
	}
	n, err := db.Q.SgroupsForDomainsDelete(ctx, s.d.Pool, &dbsqlc.SgroupsForDomainsDeleteParams{ScalingGroup: sg, Domain: domain})
	return dissociated(n, err, objDomainAssoc, "The domain is not associated with the scaling group.")
}

// DisassociateScalingGroupWithProject removes the association of project with the scaling
// group sg; KindNotFound when the group is unknown or there is no such association.
// Superadmins only.
func (s *Service) DisassociateScalingGroupWithProject(ctx context.Context, c Caller, sg string, project uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	if err := loadScalingGroup(ctx, s.d.Pool, sg); err != nil {
		return err
	}
	n, err := db.Q.SgroupsForGroupsDelete(ctx, s.d.Pool, &dbsqlc.SgroupsForGroupsDeleteParams{ScalingGroup: sg, ProjectID: project})
	return dissociated(n, err, objProjectAssoc, "The project is not associated with the scaling group.")
}

// DisassociateScalingGroupWithKeypair removes the association of keypair accessKey with the
// scaling group sg; KindNotFound when the group is unknown or there is no such association.
// Superadmins only.
func (s *Service) DisassociateScalingGroupWithKeypair(ctx context.Context, c Caller, sg, accessKey string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	if err := loadScalingGroup(ctx, s.d.Pool, sg); err != nil {
		return err
	}
	n, err := db.Q.SgroupsForKeypairsDelete(ctx, s.d.Pool, &dbsqlc.SgroupsForKeypairsDeleteParams{ScalingGroup: sg, AccessKey: accessKey})
	return dissociated(n, err, objKeypairAssoc, "The keypair is not associated with the scaling group.")
}

// DisassociateAllScalingGroupsWithDomain removes every scaling group association of domain;
// KindNotFound when it had none. Superadmins only.
func (s *Service) DisassociateAllScalingGroupsWithDomain(ctx context.Context, c Caller, domain string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.SgroupsForDomainsDeleteAll(ctx, s.d.Pool, domain)
	return dissociated(n, err, objDomainAssoc, "The domain is associated with no scaling group.")
}

// DisassociateAllScalingGroupsWithProject removes every scaling group association of
// project; KindNotFound when it had none. Superadmins only.
func (s *Service) DisassociateAllScalingGroupsWithProject(ctx context.Context, c Caller, project uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.SgroupsForGroupsDeleteAll(ctx, s.d.Pool, project)
	return dissociated(n, err, objProjectAssoc, "The project is associated with no scaling group.")
}
