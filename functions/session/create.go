package session

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// CreationConfig is the "config" object of a create request, under its canonical keys (the
// aliases are in createAliases).
type CreationConfig struct {
	Mounts       []string                  `json:"mounts,omitempty" nullable:"true" doc:"Virtual folders to mount, by name (not supported yet: must be empty)."`
	MountMap     map[string]string         `json:"mount_map,omitempty" nullable:"true" doc:"Mount path per virtual folder."`
	MountOptions map[string]map[string]any `json:"mount_options,omitempty" nullable:"true" doc:"Mount options per virtual folder (type, permission)."`
	Environ      map[string]string         `json:"environ,omitempty" nullable:"true" doc:"Environment variables of the kernels."`
	ScalingGroup *string                   `json:"scaling_group,omitempty" nullable:"true" doc:"Scaling group to run in; the first one allowed by default."`
	Resources    map[string]any            `json:"resources,omitempty" nullable:"true" doc:"Requested resource slots per kernel: numbers or strings such as \"1g\", \"512m\"; finite, non-negative, at most 10^12 for count slots and 8p (2^53 bytes) for bytes slots." example:"{\"cpu\":1,\"mem\":\"1g\"}"`
	ResourceOpts map[string]any            `json:"resource_opts,omitempty" nullable:"true" doc:"Resource options such as shmem."`
	PreopenPorts []int                     `json:"preopen_ports,omitempty" nullable:"true" doc:"Container ports to open in advance (1024-65535, at most 16, no repeats)."`
	AgentList    []string                  `json:"agent_list,omitempty" nullable:"true" doc:"Agents to run on (superadmins only)."`
}

// CreateParams are the parameters of POST /session, under their canonical keys (the aliases
// are in createAliases).
type CreateParams struct {
	Name            *string         `json:"name,omitempty" doc:"Session name: 4-64 characters of letters, digits, '_', '.', '-'; not a UUID." example:"my-session"`
	Image           *string         `json:"image,omitempty" doc:"Image reference or alias." example:"python"`
	Arch            *string         `json:"arch,omitempty" doc:"Image architecture; the server's by default." example:"x86_64"`
	Type            *string         `json:"type,omitempty" enum:"interactive,batch,inference" doc:"Session type (interactive by default)."`
	Group           *string         `json:"group,omitempty" doc:"Project name or id (\"default\" by default)."`
	Domain          *string         `json:"domain,omitempty" doc:"Domain name (\"default\" by default)."`
	ClusterSize     *int            `json:"cluster_size,omitempty" minimum:"1" doc:"Number of kernels (1 by default)."`
	ClusterMode     *string         `json:"cluster_mode,omitempty" enum:"single-node,multi-node" doc:"Cluster mode (single-node by default)."`
	Config          *CreationConfig `json:"config,omitempty" doc:"Creation options: resources, environ, scaling group, mounts."`
	Tag             *string         `json:"tag,omitempty" nullable:"true" doc:"Free-form tag."`
	EnqueueOnly     *bool           `json:"enqueueOnly,omitempty" doc:"Answer at once with status PENDING instead of waiting for the session to start."`
	MaxWaitSeconds  *int            `json:"maxWaitSeconds,omitempty" minimum:"0" doc:"How long to wait for the start (0: as long as the request lasts)."`
	StartsAt        *string         `json:"starts_at,omitempty" nullable:"true" doc:"Batch sessions only: start time (ISO 8601) or delay (\"30m\")."`
	ReuseIfExists   *bool           `json:"reuseIfExists,omitempty" doc:"Return a live session of the same name and image instead of failing (true by default)."`
	StartupCommand  *string         `json:"startupCommand,omitempty" nullable:"true" doc:"Command of a batch session."`
	BootstrapScript *string         `json:"bootstrap_script,omitempty" nullable:"true" doc:"Script run when the kernel starts; the keypair's by default."`
	Dependencies    []string        `json:"dependencies,omitempty" nullable:"true" doc:"Sessions (ids or names of the owner's) that must succeed first."`
	CallbackURL     *string         `json:"callback_url,omitempty" nullable:"true" format:"uri" doc:"URL notified of lifecycle events."`
	OwnerAccessKey  *string         `json:"owner_access_key,omitempty" nullable:"true" doc:"Create on behalf of this access key (admins only)."`
}

// createAliases are the other names Backend.AI's create schema accepts (tx.AliasedKey, in its
// order: the first name given wins). enqueueOnly, maxWaitSeconds, reuseIfExists and
// startupCommand have one name only (upstream renames them after validation).
var createAliases = functions.Aliases{ //nolint:gochecknoglobals // read-only
	{"name", "session_name", "clientSessionToken"},
	{"image", "lang"},
	{"arch", "architecture"},
	{"type", "sessionType"},
	{"group", "groupName", "group_name"},
	{"domain", "domainName", "domain_name"},
	{"cluster_size", "clusterSize"},
	{"cluster_mode", "clusterMode"},
	{"starts_at", "startsAt"},
	{"bootstrap_script", "bootstrapScript"},
	{"callback_url", "callbackUrl", "callbackURL"},
	{"config.mount_map", "mountMap"},
	{"config.mount_options", "mountOptions"},
	{"config.scaling_group", "scalingGroup"},
	{"config.resource_opts", "resourceOpts"},
	{"config.preopen_ports", "preopenPorts"},
	{"config.agent_list", "agentList"},
}

type createInput struct {
	Body CreateParams
}

// CreateOutput is the answer of POST /session.
type CreateOutput struct {
	Body CreateResult
}

// CreateResult is the body of a create answer.
type CreateResult struct {
	SessionID       string            `json:"sessionId" doc:"Session id." example:"0d3c2c8e-8a3f-4b6a-9b1b-4f0b8c2d9e11"`
	SessionName     string            `json:"sessionName" doc:"Session name."`
	Status          string            `json:"status" doc:"Session status: PENDING when only enqueued, RUNNING once started, TIMEOUT when the wait ran out, or the status it ended in." example:"PENDING"`
	ServicePorts    *[]map[string]any `json:"servicePorts,omitempty" doc:"Service ports of the main kernel (created sessions)."`
	ServicePortsRaw *[]map[string]any `json:"service_ports,omitempty" doc:"Service ports of a reused session (Backend.AI's snake_case key on that path)."`
	Created         bool              `json:"created" doc:"False when an existing session was returned."`
}

func registerCreate(s *functions.Server) {
	for _, p := range []struct{ id, path string }{
		{"create-session", "/session"},
		{"create-session-alt", "/session/_/create"},
	} {
		huma.Register(s.API(), functions.Op(functions.OpSpec{
			ID: p.id, Method: http.MethodPost, Path: p.path, Tag: tag, Status: http.StatusCreated,
			Summary: "Create a compute session",
			Description: "Queues a session (PENDING) with its kernels and wakes the scheduler. Unless enqueueOnly is " +
				"set, waits until the session runs, ends, or maxWaitSeconds pass (status TIMEOUT). A live session " +
				"of the same owner, name and image is returned instead (created: false) when reuseIfExists holds.",
			Role: functions.User, Frozen: functions.WriteOp, Params: true, Errors: []int{403, 404},
			Aliases: createAliases,
		}), func(ctx context.Context, in *createInput) (*CreateOutput, error) {
			return create(ctx, s, &in.Body)
		})
	}
}

// request is a create request: its parameters with the defaults applied (parseRequest), then
// what they resolve to (resolveRequest).
type request struct {
	name, image, arch, sessType, clusterMode string
	clusterSize                              int
	environ                                  map[string]string
	resources, resourceOpts                  map[string]any
	preopen                                  []int32
	startsAt                                 *time.Time
	tag, startup, bootstrap, callback        *string
	reuse, waiting                           bool
	maxWait                                  time.Duration
	// Names as given, resolved by resolveRequest.
	ownerKey, domainRef, groupRef, sgroupRef *string
	depRefs                                  []string
	// agents are the agents a superadmin designated (agent_list): one for every kernel of a
	// multi-node cluster, or one for all kernels of a single-node one.
	agents []string

	// Resolved.
	img       *dbsqlc.SessionImageCandidatesRow
	owner     owner
	domain    string
	groupID   uuid.UUID
	sgroup    string
	perKernel map[string]string
	deps      []uuid.UUID
	// pendingLimit is the owner key's pending-session cap, when pendingLimited.
	pendingLimit   int64
	pendingLimited bool
}

func create(ctx context.Context, s *functions.Server, p *CreateParams) (*CreateOutput, error) {
	id := functions.IdentityFrom(ctx)
	now := s.Deps().Clock()
	r, err := parseRequest(p, id, now)
	if err != nil {
		return nil, err
	}
	if err := resolveRequest(ctx, s, id, r); err != nil {
		return nil, err
	}
	return enqueue(ctx, s, r, now)
}

// parseRequest checks the parameters that need no lookup and applies the defaults.
func parseRequest(p *CreateParams, id *functions.Identity, now time.Time) (*request, error) {
	if p.Name == nil || p.Image == nil {
		miss := map[string]string{}
		if p.Name == nil {
			miss["name"] = "is required"
		}
		if p.Image == nil {
			miss["image"] = "is required"
		}
		return nil, functions.ErrInvalidAPIParams("Missing required parameters.", miss)
	}
	if err := checkName("name", *p.Name); err != nil {
		return nil, err
	}
	r := &request{
		name: *p.Name, image: *p.Image, arch: hostArch(), sessType: "interactive", clusterMode: "single-node", clusterSize: 1,
		tag: p.Tag, startup: p.StartupCommand, bootstrap: p.BootstrapScript, callback: p.CallbackURL,
		reuse:    p.ReuseIfExists == nil || *p.ReuseIfExists,
		waiting:  p.EnqueueOnly == nil || !*p.EnqueueOnly,
		ownerKey: p.OwnerAccessKey, domainRef: p.Domain, groupRef: p.Group, depRefs: p.Dependencies,
	}
	if p.Arch != nil && *p.Arch != "" {
		r.arch = normArch(*p.Arch)
	}
	if p.Type != nil {
		r.sessType = *p.Type // one of the schema's enum
	}
	if p.ClusterSize != nil {
		r.clusterSize = *p.ClusterSize
	}
	if p.ClusterMode != nil {
		r.clusterMode = *p.ClusterMode // one of the schema's enum
	}
	if p.MaxWaitSeconds != nil {
		r.maxWait = time.Duration(*p.MaxWaitSeconds) * time.Second
	}
	if r.sessType == "batch" && (r.startup == nil || strings.TrimSpace(*r.startup) == "") {
		return nil, functions.ErrInvalidAPIParams("Batch sessions must have a non-empty startup command.", nil)
	}
	if p.StartsAt != nil && *p.StartsAt != "" {
		if r.sessType != "batch" {
			return nil, functions.ErrInvalidAPIParams("Parameter starts_at should be used only for batch sessions", nil)
		}
		t, err := parseStartsAt(*p.StartsAt, now)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Invalid starts_at.", map[string]string{"starts_at": err.Error()})
		}
		r.startsAt = &t
	}
	if err := parseConfig(p.Config, id, r); err != nil {
		return nil, err
	}
	return r, nil
}

// parseConfig checks the config object: no mounts (not supported yet), agent_list for
// superadmins only and sized to the cluster, bounded distinct preopen ports.
func parseConfig(cfg *CreationConfig, id *functions.Identity, r *request) error {
	if cfg == nil {
		cfg = &CreationConfig{}
	}
	if len(cfg.Mounts) > 0 {
		return functions.ErrInvalidAPIParams("Virtual folder mounts are not supported yet.", map[string]string{"config.mounts": "must be empty"})
	}
	if len(cfg.AgentList) > 0 {
		if !id.IsSuperadmin() {
			return functions.ErrInsufficientPrivilege("You are not allowed to manually assign agents for your session.")
		}
		if (r.clusterMode == "multi-node" && len(cfg.AgentList) != r.clusterSize) || (r.clusterMode != "multi-node" && len(cfg.AgentList) != 1) {
			return functions.ErrInvalidAPIParams("The number of agents in agent_list must match the cluster size.", nil)
		}
		r.agents = cfg.AgentList
	}
	if len(cfg.PreopenPorts) > MaxPreopenPorts {
		return functions.ErrInvalidAPIParams(fmt.Sprintf("At most %d preopen ports may be given.", MaxPreopenPorts),
			map[string]string{"config.preopen_ports": fmt.Sprintf("%d ports, at most %d", len(cfg.PreopenPorts), MaxPreopenPorts)})
	}
	seen := make(map[int]bool, len(cfg.PreopenPorts))
	for _, port := range cfg.PreopenPorts {
		if port < 1024 || port > 65535 {
			return functions.ErrInvalidAPIParams("Preopen ports must be between 1024 and 65535.", map[string]string{"config.preopen_ports": fmt.Sprint(port)})
		}
		if seen[port] {
			return functions.ErrInvalidAPIParams("Preopen ports must not repeat.", map[string]string{"config.preopen_ports": fmt.Sprintf("%d is given twice", port)})
		}
		seen[port] = true
		r.preopen = append(r.preopen, int32(port))
	}
	r.environ, r.resources, r.resourceOpts, r.sgroupRef = cfg.Environ, cfg.Resources, cfg.ResourceOpts, cfg.ScalingGroup
	return nil
}

// reuseExisting answers a request naming a live session of the owner: that session (created:
// false) when reuse holds and the image is the same, else 400 session-already-exists. It
// returns nil, nil when there is no such session. It reads on q (the create transaction).
func reuseExisting(ctx context.Context, q db.DBTX, r *request) (*CreateOutput, error) {
	existing, err := matchSessionsIn(ctx, q, r.owner.AccessKey, r.name, false)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if e.Name != r.name {
			continue
		}
		if !r.reuse || len(e.Images) == 0 || e.Images[0] != r.img.Name {
			return nil, functions.ErrSessionAlreadyExists(map[string]any{"existingSessionId": e.ID.String()})
		}
		st, err := db.Q.SessionStatusGet(ctx, q, e.ID)
		if err != nil {
			return nil, functions.FromDB(err, "session")
		}
		out := &CreateOutput{}
		out.Body.SessionID, out.Body.SessionName, out.Body.Status = e.ID.String(), e.Name, st.Status
		ports := decodePorts(st.ServicePorts)
		if ports == nil {
			ports = []map[string]any{}
		}
		out.Body.ServicePortsRaw = &ports
		return out, nil
	}
	return nil, nil
}

// enqueue inserts the session PENDING (or answers with a live session of the same name, see
// admit), wakes the scheduler and, unless enqueueOnly, waits for the start.
func enqueue(ctx context.Context, s *functions.Server, r *request, now time.Time) (*CreateOutput, error) {
	d := s.Deps()
	sessionID := uuid.New()
	var sub *events.Subscription
	if r.waiting && d.Events != nil {
		sub = d.Events.Subscribe(func(ev *events.Event) bool { return ev.SessionID == sessionID.String() })
		defer sub.Cancel()
	}
	if reused, err := admit(ctx, s, r, sessionID, now); reused != nil || err != nil {
		return reused, err
	}
	functions.LogAttrs(ctx, "session_id", sessionID.String())
	wake(ctx, s, r.sgroup, now)
	publish(ctx, s, events.Event{
		Name: events.SessionEnqueued, SessionID: sessionID.String(), SessionName: r.name, AccessKey: r.owner.AccessKey,
		Domain: r.domain, ProjectID: r.groupID.String(), Status: lifecycle.Pending, Time: now,
	})

	out := &CreateOutput{}
	out.Body.SessionID, out.Body.SessionName, out.Body.Status, out.Body.Created = sessionID.String(), r.name, lifecycle.Pending, true
	noPorts := []map[string]any{}
	out.Body.ServicePorts = &noPorts
	if !r.waiting {
		return out, nil
	}
	status, ports, err := waitForStart(ctx, s, sub, sessionID, r.maxWait)
	if err != nil {
		return nil, err
	}
	out.Body.Status = status
	if ports != nil {
		out.Body.ServicePorts = &ports
	}
	return out, nil
}

// Create runs p through the create path of POST /session (checks, resolution, admission,
// insert, wait) on behalf of the caller in ctx. Other areas that create sessions (templates)
// build p and call it, so that the rules live here only.
func Create(ctx context.Context, s *functions.Server, p *CreateParams) (*CreateOutput, error) {
	return create(ctx, s, p)
}

// OwnerAccessKey applies the owner_access_key rules of session creation (see resolveOwner)
// and returns the access key acted on: the caller's own when ownerKey is empty.
func OwnerAccessKey(ctx context.Context, s *functions.Server, ownerKey *string) (string, error) {
	o, err := resolveOwner(ctx, s, functions.IdentityFrom(ctx), ownerKey)
	if err != nil {
		return "", err
	}
	return o.AccessKey, nil
}

// Scope is whom and where a creation is for: the owner's access key and user, the domain and
// the project.
type Scope struct {
	AccessKey string
	UserUUID  uuid.UUID
	Domain    string
	GroupID   uuid.UUID
}

// ResolveScope applies the owner_access_key, domain and project rules of session creation (see
// resolveOwner and resolveProject) for the caller in ctx; domain and group default to
// "default". Templates are stored under the scope it returns, so that they follow the same rules.
func ResolveScope(ctx context.Context, s *functions.Server, ownerKey, domain, group *string) (Scope, error) {
	id := functions.IdentityFrom(ctx)
	r := &request{}
	var err error
	if r.owner, err = resolveOwner(ctx, s, id, ownerKey); err != nil {
		return Scope{}, err
	}
	if err := resolveProject(ctx, s, id, r, domain, group); err != nil {
		return Scope{}, err
	}
	return Scope{AccessKey: r.owner.AccessKey, UserUUID: r.owner.UserUUID, Domain: r.domain, GroupID: r.groupID}, nil
}
