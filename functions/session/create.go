package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// CreationConfig is the "config" object of a create request.
type CreationConfig struct {
	Mounts        []string                  `json:"mounts,omitempty" nullable:"true" doc:"Virtual folders to mount, by name (not supported yet: must be empty)."`
	MountMap      map[string]string         `json:"mount_map,omitempty" nullable:"true" doc:"Mount path per virtual folder."`
	MountMapAlt   map[string]string         `json:"mountMap,omitempty" nullable:"true" doc:"Alias of mount_map."`
	MountOptions  map[string]map[string]any `json:"mount_options,omitempty" nullable:"true" doc:"Mount options per virtual folder (type, permission)."`
	MountOptsAlt  map[string]map[string]any `json:"mountOptions,omitempty" nullable:"true" doc:"Alias of mount_options."`
	Environ       map[string]string         `json:"environ,omitempty" nullable:"true" doc:"Environment variables of the kernels."`
	ScalingGroup  *string                   `json:"scaling_group,omitempty" nullable:"true" doc:"Scaling group to run in; the first one allowed by default."`
	ScalingGroup2 *string                   `json:"scalingGroup,omitempty" nullable:"true" doc:"Alias of scaling_group."`
	Resources     map[string]any            `json:"resources,omitempty" nullable:"true" doc:"Requested resource slots per kernel: numbers or strings such as \"1g\", \"512m\"; finite, non-negative, at most 10^12 for count slots and 8p (2^53 bytes) for bytes slots." example:"{\"cpu\":1,\"mem\":\"1g\"}"`
	ResourceOpts  map[string]any            `json:"resource_opts,omitempty" nullable:"true" doc:"Resource options such as shmem."`
	ResourceOpts2 map[string]any            `json:"resourceOpts,omitempty" nullable:"true" doc:"Alias of resource_opts."`
	PreopenPorts  []int                     `json:"preopen_ports,omitempty" nullable:"true" doc:"Container ports to open in advance (1024-65535, at most 16, no repeats)."`
	PreopenPorts2 []int                     `json:"preopenPorts,omitempty" nullable:"true" doc:"Alias of preopen_ports."`
	AgentList     []string                  `json:"agent_list,omitempty" nullable:"true" doc:"Agents to run on (superadmins only)."`
	AgentList2    []string                  `json:"agentList,omitempty" nullable:"true" doc:"Alias of agent_list."`
}

// CreateParams are the parameters of POST /session.
type CreateParams struct {
	Name               *string         `json:"name,omitempty" doc:"Session name: 4-64 characters of letters, digits, '_', '.', '-'; not a UUID." example:"my-session"`
	SessionName        *string         `json:"session_name,omitempty" doc:"Alias of name."`
	ClientSessionToken *string         `json:"clientSessionToken,omitempty" doc:"Alias of name."`
	Image              *string         `json:"image,omitempty" doc:"Image reference or alias." example:"python"`
	Lang               *string         `json:"lang,omitempty" doc:"Alias of image."`
	Arch               *string         `json:"arch,omitempty" doc:"Image architecture; the server's by default." example:"x86_64"`
	Architecture       *string         `json:"architecture,omitempty" doc:"Alias of arch."`
	Type               *string         `json:"type,omitempty" enum:"interactive,batch,inference" doc:"Session type (interactive by default)."`
	SessionType        *string         `json:"sessionType,omitempty" doc:"Alias of type."`
	Group              *string         `json:"group,omitempty" doc:"Project name or id (\"default\" by default)."`
	GroupName          *string         `json:"groupName,omitempty" doc:"Alias of group."`
	GroupName2         *string         `json:"group_name,omitempty" doc:"Alias of group."`
	Domain             *string         `json:"domain,omitempty" doc:"Domain name (\"default\" by default)."`
	DomainName         *string         `json:"domainName,omitempty" doc:"Alias of domain."`
	DomainName2        *string         `json:"domain_name,omitempty" doc:"Alias of domain."`
	ClusterSize        *int            `json:"cluster_size,omitempty" minimum:"1" doc:"Number of kernels (1 by default)."`
	ClusterSize2       *int            `json:"clusterSize,omitempty" minimum:"1" doc:"Alias of cluster_size."`
	ClusterMode        *string         `json:"cluster_mode,omitempty" enum:"single-node,multi-node" doc:"Cluster mode (single-node by default)."`
	ClusterMode2       *string         `json:"clusterMode,omitempty" doc:"Alias of cluster_mode."`
	Config             *CreationConfig `json:"config,omitempty" doc:"Creation options: resources, environ, scaling group, mounts."`
	Tag                *string         `json:"tag,omitempty" nullable:"true" doc:"Free-form tag."`
	EnqueueOnly        *bool           `json:"enqueueOnly,omitempty" doc:"Answer at once with status PENDING instead of waiting for the session to start."`
	MaxWaitSeconds     *int            `json:"maxWaitSeconds,omitempty" minimum:"0" doc:"How long to wait for the start (0: as long as the request lasts)."`
	StartsAt           *string         `json:"starts_at,omitempty" nullable:"true" doc:"Batch sessions only: start time (ISO 8601) or delay (\"30m\")."`
	StartsAt2          *string         `json:"startsAt,omitempty" nullable:"true" doc:"Alias of starts_at."`
	ReuseIfExists      *bool           `json:"reuseIfExists,omitempty" doc:"Return a live session of the same name and image instead of failing (true by default)."`
	StartupCommand     *string         `json:"startupCommand,omitempty" nullable:"true" doc:"Command of a batch session."`
	BootstrapScript    *string         `json:"bootstrap_script,omitempty" nullable:"true" doc:"Script run when the kernel starts; the keypair's by default."`
	BootstrapScript2   *string         `json:"bootstrapScript,omitempty" nullable:"true" doc:"Alias of bootstrap_script."`
	Dependencies       []string        `json:"dependencies,omitempty" nullable:"true" doc:"Sessions (ids or names of the owner's) that must succeed first."`
	CallbackURL        *string         `json:"callback_url,omitempty" nullable:"true" format:"uri" doc:"URL notified of lifecycle events."`
	CallbackURL2       *string         `json:"callbackUrl,omitempty" nullable:"true" format:"uri" doc:"Alias of callback_url."`
	CallbackURL3       *string         `json:"callbackURL,omitempty" nullable:"true" format:"uri" doc:"Alias of callback_url."`
	OwnerAccessKey     *string         `json:"owner_access_key,omitempty" nullable:"true" doc:"Create on behalf of this access key (admins only)."`
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
		}), func(ctx context.Context, in *createInput) (*CreateOutput, error) {
			return create(ctx, s, &in.Body)
		})
	}
}

// request is a create request after validation.
type request struct {
	name, image, arch, sessType, clusterMode string
	clusterSize                              int
	img                                      *dbsqlc.SessionImageCandidatesRow
	owner                                    owner
	domain                                   string
	groupID                                  uuid.UUID
	sgroup                                   string
	perKernel                                map[string]string
	environ                                  map[string]string
	resourceOpts                             map[string]any
	preopen                                  []int32
	startsAt                                 *time.Time
	deps                                     []uuid.UUID
	// agents are the agents a superadmin designated (agent_list): one for every kernel of a
	// multi-node cluster, or one for all kernels of a single-node one.
	agents []string
	// pendingLimit is the owner key's pending-session cap, when pendingLimited.
	pendingLimit   int64
	pendingLimited bool
}

func create(ctx context.Context, s *functions.Server, p *CreateParams) (*CreateOutput, error) {
	d := s.Deps()
	id := functions.IdentityFrom(ctx)
	now := d.Clock()
	r := &request{}
	namePtr := first(p.Name, p.SessionName, p.ClientSessionToken)
	imagePtr := first(p.Image, p.Lang)
	if namePtr == nil || imagePtr == nil {
		miss := map[string]string{}
		if namePtr == nil {
			miss["name"] = "is required"
		}
		if imagePtr == nil {
			miss["image"] = "is required"
		}
		return nil, functions.ErrInvalidAPIParams("Missing required parameters.", miss)
	}
	r.name, r.image = *namePtr, *imagePtr
	if err := checkName("name", r.name); err != nil {
		return nil, err
	}
	r.arch = hostArch()
	if a := first(p.Arch, p.Architecture); a != nil && *a != "" {
		r.arch = normArch(*a)
	}
	r.sessType = "interactive"
	if t := first(p.Type, p.SessionType); t != nil {
		r.sessType = *t
	}
	if r.sessType != "interactive" && r.sessType != "batch" && r.sessType != "inference" {
		return nil, functions.ErrInvalidAPIParams("Invalid session type.", map[string]string{"type": "must be interactive, batch or inference"})
	}
	startup := p.StartupCommand
	if r.sessType == "batch" && (startup == nil || strings.TrimSpace(*startup) == "") {
		return nil, functions.ErrInvalidAPIParams("Batch sessions must have a non-empty startup command.", nil)
	}
	if sa := first(p.StartsAt, p.StartsAt2); sa != nil && *sa != "" {
		if r.sessType != "batch" {
			return nil, functions.ErrInvalidAPIParams("Parameter starts_at should be used only for batch sessions", nil)
		}
		t, err := parseStartsAt(*sa, now)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Invalid starts_at.", map[string]string{"starts_at": err.Error()})
		}
		r.startsAt = &t
	}
	r.clusterSize = 1
	if cs := first(p.ClusterSize, p.ClusterSize2); cs != nil {
		r.clusterSize = *cs
	}
	r.clusterMode = "single-node"
	if cm := first(p.ClusterMode, p.ClusterMode2); cm != nil {
		r.clusterMode = *cm
	}
	if r.clusterMode != "single-node" && r.clusterMode != "multi-node" {
		return nil, functions.ErrInvalidAPIParams("Invalid cluster mode.", map[string]string{"cluster_mode": "must be single-node or multi-node"})
	}
	cfg := p.Config
	if cfg == nil {
		cfg = &CreationConfig{}
	}
	if len(cfg.Mounts) > 0 {
		return nil, functions.ErrInvalidAPIParams("Virtual folder mounts are not supported yet.", map[string]string{"config.mounts": "must be empty"})
	}
	agentList := cfg.AgentList
	if len(agentList) == 0 {
		agentList = cfg.AgentList2
	}
	if len(agentList) > 0 {
		if !id.IsSuperadmin() {
			return nil, functions.ErrInsufficientPrivilege("You are not allowed to manually assign agents for your session.")
		}
		if (r.clusterMode == "multi-node" && len(agentList) != r.clusterSize) || (r.clusterMode != "multi-node" && len(agentList) != 1) {
			return nil, functions.ErrInvalidAPIParams("The number of agents in agent_list must match the cluster size.", nil)
		}
		r.agents = agentList
	}
	preopen := append(append([]int{}, cfg.PreopenPorts...), cfg.PreopenPorts2...)
	if len(preopen) > MaxPreopenPorts {
		return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("At most %d preopen ports may be given.", MaxPreopenPorts),
			map[string]string{"config.preopen_ports": fmt.Sprintf("%d ports, at most %d", len(preopen), MaxPreopenPorts)})
	}
	seenPorts := make(map[int]bool, len(preopen))
	for _, port := range preopen {
		if port < 1024 || port > 65535 {
			return nil, functions.ErrInvalidAPIParams("Preopen ports must be between 1024 and 65535.", map[string]string{"config.preopen_ports": fmt.Sprint(port)})
		}
		if seenPorts[port] {
			return nil, functions.ErrInvalidAPIParams("Preopen ports must not repeat.", map[string]string{"config.preopen_ports": fmt.Sprintf("%d is given twice", port)})
		}
		seenPorts[port] = true
		r.preopen = append(r.preopen, int32(port))
	}
	r.environ = cfg.Environ
	r.resourceOpts = cfg.ResourceOpts
	if r.resourceOpts == nil {
		r.resourceOpts = cfg.ResourceOpts2
	}

	var err error
	if r.owner, err = resolveOwner(ctx, s, id, p.OwnerAccessKey); err != nil {
		return nil, err
	}
	if err := checkClusterSize(ctx, s, r); err != nil {
		return nil, err
	}
	if err := resolveProject(ctx, s, id, r, first(p.Domain, p.DomainName, p.DomainName2), first(p.Group, p.GroupName, p.GroupName2)); err != nil {
		return nil, err
	}
	if r.img, err = resolveImage(ctx, s, r.image, r.arch); err != nil {
		return nil, err
	}
	known := d.Shared.ResourceSlots()
	if r.perKernel, err = normalizeResources(cfg.Resources, known, r.img.Resources); err != nil {
		return nil, err
	}
	if err := checkSessionTotal(r, known); err != nil {
		return nil, err
	}
	if r.sgroup, err = resolveScalingGroup(ctx, s, r, first(cfg.ScalingGroup, cfg.ScalingGroup2)); err != nil {
		return nil, err
	}
	if err := checkCapacity(ctx, s, r); err != nil {
		return nil, err
	}
	for _, ref := range p.Dependencies {
		dep, err := findSession(ctx, s, r.owner.AccessKey, ref, true)
		if err != nil {
			return nil, err
		}
		r.deps = append(r.deps, dep.ID)
	}

	// A live session of the same name: reuse it or refuse.
	existing, err := matchSessions(ctx, s, r.owner.AccessKey, r.name, false)
	if err != nil {
		return nil, err
	}
	for _, e := range existing {
		if e.Name != r.name {
			continue
		}
		reuse := p.ReuseIfExists == nil || *p.ReuseIfExists
		if !reuse || len(e.Images) == 0 || e.Images[0] != r.img.Name {
			return nil, functions.ErrSessionAlreadyExists(map[string]any{"existingSessionId": e.ID.String()})
		}
		st, err := db.Q.SessionStatusGet(ctx, d.Pool, e.ID)
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

	sessionID := uuid.New()
	functions.LogAttrs(ctx, "session_id", sessionID.String())
	var sub *events.Subscription
	waiting := p.EnqueueOnly == nil || !*p.EnqueueOnly
	if waiting && d.Events != nil {
		sub = d.Events.Subscribe(func(ev *events.Event) bool { return ev.SessionID == sessionID.String() })
		defer sub.Cancel()
	}
	if err := insert(ctx, s, r, p, sessionID, now); err != nil {
		return nil, err
	}
	wake(ctx, s, r.sgroup, now)
	publish(ctx, s, events.Event{
		Name: events.SessionEnqueued, SessionID: sessionID.String(), SessionName: r.name, AccessKey: r.owner.AccessKey,
		Domain: r.domain, ProjectID: r.groupID.String(), Status: lifecycle.Pending, Time: now,
	})

	out := &CreateOutput{}
	out.Body.SessionID, out.Body.SessionName, out.Body.Status, out.Body.Created = sessionID.String(), r.name, lifecycle.Pending, true
	noPorts := []map[string]any{}
	out.Body.ServicePorts = &noPorts
	if !waiting {
		return out, nil
	}
	wait := 0
	if p.MaxWaitSeconds != nil {
		wait = *p.MaxWaitSeconds
	}
	status, ports, err := waitForStart(ctx, s, sub, sessionID, time.Duration(wait)*time.Second)
	if err != nil {
		return nil, err
	}
	out.Body.Status = status
	if ports != nil {
		out.Body.ServicePorts = &ports
	}
	return out, nil
}

// checkClusterSize refuses a cluster larger than the owner's keypair resource policy allows
// (412 quota-exceeded, as Backend.AI), and takes the owner's pending-session cap from the
// policy (see pendingCap).
func checkClusterSize(ctx context.Context, s *functions.Server, r *request) error {
	if r.owner.Policy == "" {
		r.pendingLimit, r.pendingLimited = pendingCap(s, nil)
		return nil
	}
	pol, err := cache.For[string, *dbsqlc.KeypairResourcePolicy](s.Deps().Cache, "session.keypair-policy", 0,
		"keypair_resource_policies").Get(r.owner.Policy, func() (*dbsqlc.KeypairResourcePolicy, error) {
		return db.Q.KeypairResourcePolicyGetByName(ctx, s.Deps().Pool, r.owner.Policy)
	})
	if err != nil {
		return functions.FromDB(err, "keypair resource policy")
	}
	r.pendingLimit, r.pendingLimited = pendingCap(s, pol.MaxPendingSessionCount)
	if pol.MaxContainersPerSession > 0 && r.clusterSize > int(pol.MaxContainersPerSession) {
		return functions.ErrQuotaExceeded(fmt.Sprintf("You cannot create session with more than %d containers.", pol.MaxContainersPerSession))
	}
	return nil
}

// wake enqueues a schedule pass for the scaling group; a pass already queued for this moment
// is fine, and a failure only delays the session until the next schedule tick.
func wake(ctx context.Context, s *functions.Server, sg string, now time.Time) {
	d := s.Deps()
	if d.Enqueuer == nil {
		return
	}
	task, err := jobs.NewScheduleScalingGroupTask(sg, now)
	if err == nil {
		_, err = d.Enqueuer.Enqueue(ctx, task)
	}
	if err != nil && !jobs.IsDuplicate(err) {
		d.Log().Warn("enqueue schedule pass", "scaling_group", sg, "err", err)
	}
}

func decodePorts(raw json.RawMessage) []map[string]any {
	if len(raw) == 0 {
		return nil
	}
	var ports []map[string]any
	if json.Unmarshal(raw, &ports) != nil {
		return nil
	}
	return ports
}

// resolveProject applies Backend.AI's domain and project rules: a superadmin may name any domain,
// others only their own; the project must be an active one of that domain, and users must be
// among its members.
func resolveProject(ctx context.Context, s *functions.Server, id *functions.Identity, r *request, domain, group *string) error {
	r.domain = "default"
	if domain != nil && *domain != "" {
		r.domain = *domain
	}
	if !id.IsSuperadmin() && r.domain != r.owner.Domain {
		return functions.ErrInvalidAPIParams("You can only set the domain to your domain.", map[string]string{"domain": r.domain})
	}
	ref := "default"
	if group != nil && *group != "" {
		ref = *group
	}
	params := &dbsqlc.SessionProjectResolveParams{UserUuid: r.owner.UserUUID, DomainName: r.domain}
	if u, err := uuid.Parse(ref); err == nil {
		params.ID = &u
	} else {
		params.Name = &ref
	}
	key := projectKey{user: r.owner.UserUUID, domain: r.domain, ref: ref}
	row, err := cache.For[projectKey, *dbsqlc.SessionProjectResolveRow](s.Deps().Cache, "session.project", 0,
		"groups", "association_groups_users").Get(key, func() (*dbsqlc.SessionProjectResolveRow, error) {
		return db.Q.SessionProjectResolve(ctx, s.Deps().Pool, params)
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return functions.ErrInvalidAPIParams("Invalid group", map[string]string{"group": ref})
		}
		return functions.FromDB(err, "project")
	}
	if !row.IsMember && !id.IsSuperadmin() && !id.IsDomainAdmin() {
		return functions.ErrInvalidAPIParams("Invalid group", map[string]string{"group": ref})
	}
	r.groupID = row.ID
	return nil
}

// projectKey is the key of a cached project resolution.
type projectKey struct {
	user        uuid.UUID
	domain, ref string
}

// errNoImage is a resolution that found no image.
var errNoImage = errors.New("no such image")

// resolveImage finds the image ref names: by canonical name (with the default registry and
// tag filled in), preferring the requested architecture, else as an alias.
func resolveImage(ctx context.Context, s *functions.Server, ref, arch string) (*dbsqlc.SessionImageCandidatesRow, error) {
	names := []string{ref}
	withTag := ref
	if last := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(last, ":") {
		withTag = ref + ":latest"
		names = append(names, withTag)
	}
	if !strings.Contains(ref, "/") {
		names = append(names, "index.docker.io/lablup/"+withTag)
	}
	rows, err := cache.For[string, []*dbsqlc.SessionImageCandidatesRow](s.Deps().Cache, "session.image", 0,
		"images", "image_aliases").Get(ref, func() ([]*dbsqlc.SessionImageCandidatesRow, error) {
		rows, err := db.Q.SessionImageCandidates(ctx, s.Deps().Pool, &dbsqlc.SessionImageCandidatesParams{Alias: ref, Names: names})
		if err == nil && len(rows) == 0 {
			err = errNoImage // not cached: an image registered a moment ago is found at once
		}
		return rows, err
	})
	if errors.Is(err, errNoImage) {
		return nil, functions.ErrObjectNotFound("environment image", "")
	}
	if err != nil {
		return nil, functions.FromDB(err, "environment image")
	}
	var byName, alias []*dbsqlc.SessionImageCandidatesRow
	for _, r := range rows {
		if r.ViaAlias {
			alias = append(alias, r)
		} else {
			byName = append(byName, r)
		}
	}
	for _, group := range [][]*dbsqlc.SessionImageCandidatesRow{byName, alias} {
		for _, r := range group {
			if r.Architecture == arch {
				return r, nil
			}
		}
		if len(group) == 1 {
			return group[0], nil
		}
	}
	return nil, functions.ErrObjectNotFound("environment image", "")
}

// resolveScalingGroup picks the scaling group: the requested one if it is allowed for the
// owner's key, project and domain and takes this session type, else the first allowed one that
// does; "default" when none is associated.
func resolveScalingGroup(ctx context.Context, s *functions.Server, r *request, requested *string) (string, error) {
	params := &dbsqlc.SessionScalingGroupCandidatesParams{DomainName: r.domain, GroupID: r.groupID, AccessKey: r.owner.AccessKey}
	rows, err := cache.For[dbsqlc.SessionScalingGroupCandidatesParams, []*dbsqlc.SessionScalingGroupCandidatesRow](s.Deps().Cache,
		"session.scaling-groups", 0, "scaling_groups", "sgroups_for_domains", "sgroups_for_groups", "sgroups_for_keypairs").
		Get(*params, func() ([]*dbsqlc.SessionScalingGroupCandidatesRow, error) {
			return db.Q.SessionScalingGroupCandidates(ctx, s.Deps().Pool, params)
		})
	if err != nil {
		return "", functions.FromDB(err, "scaling group")
	}
	allows := func(opts json.RawMessage) bool {
		var o struct {
			AllowedSessionTypes []string `json:"allowed_session_types"`
		}
		_ = json.Unmarshal(opts, &o)
		if o.AllowedSessionTypes == nil {
			o.AllowedSessionTypes = []string{"interactive", "batch"}
		}
		for _, t := range o.AllowedSessionTypes {
			if strings.EqualFold(t, r.sessType) {
				return true
			}
		}
		return false
	}
	if requested != nil && *requested != "" {
		for _, row := range rows {
			if row.Name == *requested && row.IsPublic && allows(row.SchedulerOpts) {
				return row.Name, nil
			}
		}
		return "", functions.ErrObjectNotFound("scaling group",
			fmt.Sprintf("The scaling group %q does not exist or is not allowed for this session.", *requested))
	}
	for _, row := range rows {
		if row.IsPublic && allows(row.SchedulerOpts) {
			return row.Name, nil
		}
	}
	if len(rows) > 0 {
		return "", functions.ErrObjectNotFound("scaling group", "No scaling group allows this session type.")
	}
	return "default", nil
}

// insert writes the session and its kernels (main plus cluster_size-1 sub kernels) PENDING in
// one transaction.
func insert(ctx context.Context, s *functions.Server, r *request, p *CreateParams, sid uuid.UUID, now time.Time) error {
	history, _ := json.Marshal(lifecycle.HistoryEntry(lifecycle.Pending, now))
	perKernel, _ := json.Marshal(r.perKernel)
	total, _ := json.Marshal(scaleSlots(r.perKernel, r.clusterSize))
	environ := r.environ
	if environ == nil {
		environ = map[string]string{}
	}
	envJSON, _ := json.Marshal(environ)
	envList := make([]string, 0, len(environ))
	for k, v := range environ {
		envList = append(envList, k+"="+v)
	}
	opts := r.resourceOpts
	if opts == nil {
		opts = map[string]any{}
	}
	optsJSON, _ := json.Marshal(opts)
	bootstrap := first(p.BootstrapScript, p.BootstrapScript2)
	if bootstrap == nil || *bootstrap == "" {
		bootstrap = nil
		if r.owner.Bootstrap != "" {
			bootstrap = &r.owner.Bootstrap
		}
	}
	callback := first(p.CallbackURL, p.CallbackURL2, p.CallbackURL3)
	creationID := strings.ReplaceAll(uuid.NewString(), "-", "")[:22]
	sessType := strings.ToUpper(r.sessType)
	sg := r.sgroup
	registry, tagPart := r.img.Registry, r.img.Tag
	imageName := r.img.Name
	preopen := r.preopen
	if preopen == nil {
		preopen = []int32{}
	}
	err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
		if err := checkPendingCap(ctx, tx, r); err != nil {
			return err
		}
		if err := db.Q.SessionInsert(ctx, tx, &dbsqlc.SessionInsertParams{
			ID: sid, CreationID: &creationID, Name: r.name, SessionType: sessType, ClusterMode: r.clusterMode,
			ClusterSize: int32(r.clusterSize), ScalingGroupName: &sg, TargetSgroupNames: []string{sg},
			DomainName: r.domain, GroupID: r.groupID, UserUuid: r.owner.UserUUID, AccessKey: r.owner.AccessKey,
			Images: []string{imageName}, Tag: p.Tag, RequestedSlots: total, Environ: envJSON,
			BootstrapScript: bootstrap, Now: now, StartsAt: r.startsAt, StatusHistory: history,
			CallbackUrl: callback, StartupCommand: p.StartupCommand,
		}); err != nil {
			return err
		}
		for i := 0; i < r.clusterSize; i++ {
			role, idx := "main", 1
			if i > 0 {
				role, idx = "sub", i
			}
			var agent *string
			if len(r.agents) > 0 {
				agent = &r.agents[min(i, len(r.agents)-1)]
			}
			if err := db.Q.SessionKernelInsert(ctx, tx, &dbsqlc.SessionKernelInsertParams{
				ID: uuid.New(), SessionID: sid, SessionCreationID: &creationID, SessionName: r.name,
				SessionType: sessType, ClusterMode: r.clusterMode, ClusterSize: int32(r.clusterSize),
				ClusterRole: role, ClusterIdx: int32(idx), LocalRank: int32(i), ClusterHostname: fmt.Sprintf("%s%d", role, idx),
				ScalingGroup: &sg, DomainName: r.domain, GroupID: r.groupID, UserUuid: r.owner.UserUUID,
				AccessKey: r.owner.AccessKey, Image: &imageName, Architecture: r.img.Architecture,
				Registry: &registry, Tag: &tagPart, RequestedSlots: perKernel, Environ: envList,
				ResourceOpts: optsJSON, BootstrapScript: bootstrap, PreopenPorts: preopen, Now: now,
				StartsAt: r.startsAt, StatusHistory: history, CallbackUrl: callback, StartupCommand: p.StartupCommand,
				Agent: agent,
			}); err != nil {
				return err
			}
		}
		for _, dep := range r.deps {
			if err := db.Q.SessionDependencyInsert(ctx, tx, &dbsqlc.SessionDependencyInsertParams{SessionID: sid, DependsOn: dep}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrConflict) {
			return functions.ErrSessionAlreadyExists(nil)
		}
		return functions.FromDB(err, "session")
	}
	return nil
}
