package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/scheduler"
	"github.com/hangar-run/hangar/internal/slots"
)

// This file is the snapshot adapter: it reads one scaling group's rows from PostgreSQL and
// turns them into the internal/scheduler snapshot a pass plans over.

// Status info of the sessions a schedule pass cancels because it cannot evaluate them.
const (
	// statusInfoInvalidResourceRequest: a requested_slots map that is not valid JSON, or an
	// amount that is not a finite, non-negative decimal within bounds.
	statusInfoInvalidResourceRequest = "invalid-resource-request"
	// statusInfoInvalidSession: any other session row the pass cannot read (unknown cluster
	// mode, no kernel resource policy, a shape the scheduler refuses).
	statusInfoInvalidSession = "invalid-session"
)

// rejection is a pending session a pass cancels instead of scheduling.
type rejection struct {
	ref    lifecycle.Ref
	reason string
	msg    string
}

// schedulerOpts is the part of scaling_groups.scheduler_opts a pass reads.
type schedulerOpts struct {
	AllowedSessionTypes    []string       `json:"allowed_session_types"`
	PendingTimeout         float64        `json:"pending_timeout"`
	Config                 map[string]any `json:"config"`
	AgentSelectionStrategy string         `json:"agent_selection_strategy"`
	Roundrobin             bool           `json:"roundrobin"`
}

// decodeSlots decodes a JSONB resource slot map with slots.DecodeMap (amounts kept as
// written); null or empty gives an empty map.
func decodeSlots(b []byte) (map[string]string, error) {
	return slots.DecodeMap(b)
}

// loader reads one scaling group's snapshot. Rows it cannot evaluate never fail the pass: a
// pending session with such a row is rejected (cancelled by the pass), an agent is left out,
// a policy limits to nothing, and a usage row is left out; each is logged.
type loader struct {
	tx     pgx.Tx
	logger *slog.Logger
	// bad are the pending sessions to reject, by id; rejected lists them in order.
	bad      map[uuid.UUID]rejection
	rejected []rejection
	// checked, requests and pending remember, per stored requested_slots text, what
	// checkRequest, a kernel's request vector and a pending session's usage vector gave:
	// most sessions of a pass share a few request shapes.
	checked           map[string]checkedRequest
	requests, pending map[string]parsedVector
}

// checkedRequest is what checkRequest gave for one requested_slots text.
type checkedRequest struct {
	m   map[string]string
	err error
}

// parsedVector is a slot vector parsed from one stored slot map text. The vector is shared
// by everything parsed from the same text and must not be modified.
type parsedVector struct {
	v   []int64
	err error
}

// checkRequestOnce is checkRequest, once per distinct raw text in the pass. The returned map
// is shared: read it only.
func (l *loader) checkRequestOnce(raw []byte, types map[string]string) (map[string]string, error) {
	if c, ok := l.checked[string(raw)]; ok {
		return c.m, c.err
	}
	m, err := checkRequest(raw, types)
	if l.checked == nil {
		l.checked = map[string]checkedRequest{}
	}
	l.checked[string(raw)] = checkedRequest{m: m, err: err}
	return m, err
}

// vectorOnce parses raw with parse once per distinct raw text in cache (the snapshot's slot
// names and types are fixed by then). The vector is shared: read it only.
func vectorOnce(cache *map[string]parsedVector, raw []byte, parse func() ([]int64, error)) ([]int64, error) {
	if c, ok := (*cache)[string(raw)]; ok {
		return c.v, c.err
	}
	v, err := parse()
	if *cache == nil {
		*cache = map[string]parsedVector{}
	}
	(*cache)[string(raw)] = parsedVector{v: v, err: err}
	return v, err
}

// reject marks a pending session for cancellation (the first reason wins).
func (l *loader) reject(id uuid.UUID, ref lifecycle.Ref, reason, msg string) {
	if _, ok := l.bad[id]; ok {
		return
	}
	ref.ID = id.String()
	rj := rejection{ref: ref, reason: reason, msg: msg}
	l.bad[id] = rj
	l.rejected = append(l.rejected, rj)
}

// parseKnown is scheduler.ParseSlots over the slots of m that are in names.
func parseKnown(names []string, types map[string]string, m map[string]string) ([]int64, error) {
	known := make(map[string]string, len(m))
	for _, n := range names {
		if v, ok := m[n]; ok {
			known[n] = v
		}
	}
	return scheduler.ParseSlots(names, types, known)
}

// checkRequest decodes a requested_slots map and checks every amount with the strict parser
// (finite, within bounds), typing slots like the snapshot.
func checkRequest(raw []byte, types map[string]string) (map[string]string, error) {
	m, err := decodeSlots(raw)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if _, err := slots.ParseStored(m[name], slots.GuessType(types, name), slots.Finite); err != nil {
			return nil, fmt.Errorf("slot %q: %w", name, err)
		}
	}
	return m, nil
}

// loadSnapshot reads one scaling group's snapshot. It returns a nil snapshot for an unknown
// scaling group or one without pending sessions, and the event fields of each pending
// session by id. Pending sessions it cannot evaluate are left out and listed in l.rejected.
func (l *loader) loadSnapshot(ctx context.Context, sg string, now time.Time) (*scheduler.Snapshot, map[string]lifecycle.Ref, error) {
	tx := l.tx
	sgRow, err := db.Q.ScheduleScalingGroup(ctx, tx, sg)
	if db.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load scaling group: %w", err)
	}
	sessions, err := db.Q.SchedulePendingSessions(ctx, tx, &sg)
	if err != nil {
		return nil, nil, fmt.Errorf("load pending sessions: %w", err)
	}
	if len(sessions) == 0 {
		return nil, nil, nil
	}
	kernels, err := db.Q.SchedulePendingKernels(ctx, tx, &sg)
	if err != nil {
		return nil, nil, fmt.Errorf("load pending kernels: %w", err)
	}
	deps, err := db.Q.ScheduleDependencies(ctx, tx, &sg)
	if err != nil {
		return nil, nil, fmt.Errorf("load dependencies: %w", err)
	}
	agents, err := db.Q.ScheduleAgents(ctx, tx, sg)
	if err != nil {
		return nil, nil, fmt.Errorf("load agents: %w", err)
	}
	agentSlots, err := db.Q.ScheduleAgentSlots(ctx, tx, sg)
	if err != nil {
		return nil, nil, fmt.Errorf("load agent slots: %w", err)
	}
	refOf := make(map[uuid.UUID]lifecycle.Ref, len(sessions))
	for _, s := range sessions {
		refOf[s.ID] = lifecycle.Ref{ID: s.ID.String(), Name: s.Name, AccessKey: s.AccessKey, Domain: s.DomainName, ProjectID: s.GroupID.String()}
	}

	// Slot names: the union of the agents' slots and the requested ones.
	types := map[string]string{}
	nameSet := map[string]bool{}
	for _, s := range agentSlots {
		nameSet[s.Slot] = true
		types[s.Slot] = s.SlotType
	}
	kernelSlots := make(map[uuid.UUID]map[string]string, len(kernels))
	for _, k := range kernels {
		m, err := l.checkRequestOnce(k.RequestedSlots, types)
		if err != nil {
			l.reject(k.SessionID, refOf[k.SessionID], statusInfoInvalidResourceRequest,
				fmt.Sprintf("kernel %s requested_slots: %v", k.ID, err))
			continue
		}
		kernelSlots[k.ID] = m
	}
	for _, s := range sessions {
		if _, err := l.checkRequestOnce(s.RequestedSlots, types); err != nil {
			l.reject(s.ID, refOf[s.ID], statusInfoInvalidResourceRequest, fmt.Sprintf("requested_slots: %v", err))
		}
		switch s.ClusterMode {
		case scheduler.SingleNode, scheduler.MultiNode:
		default:
			l.reject(s.ID, refOf[s.ID], statusInfoInvalidSession, fmt.Sprintf("unknown cluster mode %q", s.ClusterMode))
		}
	}
	for _, k := range kernels {
		if _, bad := l.bad[k.SessionID]; bad {
			continue
		}
		for n := range kernelSlots[k.ID] {
			nameSet[n] = true
		}
	}
	names := slices.Sorted(maps.Keys(nameSet))

	snap := &scheduler.Snapshot{
		ScalingGroup: scheduler.ScalingGroup{Name: sg},
		Now:          now,
		SlotNames:    names,
		SlotTypes:    types,
		Usage: scheduler.Usage{
			Keypairs: map[string]scheduler.KeypairUsage{},
		},
		Limits: scheduler.Limits{
			Keypairs: map[string]scheduler.KeypairPolicy{},
			Users:    map[string][]int64{},
		},
	}
	var opts schedulerOpts
	if len(sgRow.SchedulerOpts) > 0 {
		if err := json.Unmarshal(sgRow.SchedulerOpts, &opts); err != nil {
			l.logger.Error("schedule pass: unreadable scheduler_opts; using the defaults", "error", err)
			opts = schedulerOpts{}
		}
	}
	switch algo := scheduler.Algorithm(sgRow.Scheduler); algo {
	case scheduler.FIFO, scheduler.LIFO, scheduler.DRF:
		snap.ScalingGroup.Scheduler = algo
	default:
		snap.ScalingGroup.Scheduler = scheduler.FIFO
	}
	snap.ScalingGroup.AllowedSessionTypes = opts.AllowedSessionTypes
	if opts.PendingTimeout > 0 && opts.PendingTimeout < float64(100*365*24*time.Hour/time.Second) {
		snap.ScalingGroup.PendingTimeout = time.Duration(opts.PendingTimeout * float64(time.Second))
	}
	snap.ScalingGroup.AgentSelectionStrategy = scheduler.Strategy(opts.AgentSelectionStrategy)
	switch snap.ScalingGroup.AgentSelectionStrategy {
	case scheduler.Dispersed, scheduler.Concentrated, scheduler.Legacy:
	default:
		snap.ScalingGroup.AgentSelectionStrategy = scheduler.Dispersed
	}
	snap.ScalingGroup.RoundRobin = opts.Roundrobin
	snap.RoundRobinIndex = int(sgRow.RoundrobinIndex)
	if n, ok := opts.Config["num_retries_to_skip"].(float64); ok && n > 0 && n < 1e9 {
		snap.ScalingGroup.NumRetriesToSkip = int(n)
	}

	// Agents: one whose capacity or occupancy cannot be read is left out of the pass.
	byAgent := map[string][2]map[string]string{}
	for _, s := range agentSlots {
		v := byAgent[s.AgentID]
		if v[0] == nil {
			v = [2]map[string]string{{}, {}}
			byAgent[s.AgentID] = v
		}
		v[0][s.Slot] = s.Capacity
		v[1][s.Slot] = s.Occupied
	}
	for _, a := range agents {
		capacity, err := scheduler.ParseSlots(names, types, byAgent[a.ID][0])
		if err != nil {
			l.logger.Error("schedule pass: agent left out, its capacity is unreadable", "agent", a.ID, "error", err)
			continue
		}
		occupied, err := scheduler.ParseSlots(names, types, byAgent[a.ID][1])
		if err != nil {
			l.logger.Error("schedule pass: agent left out, its occupancy is unreadable", "agent", a.ID, "error", err)
			continue
		}
		snap.Agents = append(snap.Agents, scheduler.Agent{
			ID: a.ID, Architecture: a.Architecture, Capacity: capacity, Occupied: occupied,
			Schedulable: a.Schedulable, ContainerCount: int(max(a.ContainerCount, 0)),
		})
	}

	// Pending sessions with their kernels and dependencies.
	kernelsOf := map[uuid.UUID][]scheduler.Kernel{}
	private := map[uuid.UUID]bool{}
	for _, k := range kernels {
		if _, bad := l.bad[k.SessionID]; bad {
			continue
		}
		req, err := vectorOnce(&l.requests, k.RequestedSlots, func() ([]int64, error) {
			return scheduler.ParseSlots(names, types, kernelSlots[k.ID])
		})
		if err != nil {
			l.reject(k.SessionID, refOf[k.SessionID], statusInfoInvalidResourceRequest,
				fmt.Sprintf("kernel %s requested_slots: %v", k.ID, err))
			continue
		}
		kk := scheduler.Kernel{ID: k.ID.String(), Requested: req, Architecture: k.Architecture}
		if k.Agent != nil {
			kk.AgentID = *k.Agent
		}
		kernelsOf[k.SessionID] = append(kernelsOf[k.SessionID], kk)
		if k.Role == "SYSTEM" {
			private[k.SessionID] = true
		}
	}
	depsOf := map[uuid.UUID][]scheduler.DependencyState{}
	for _, d := range deps {
		depsOf[d.SessionID] = append(depsOf[d.SessionID], scheduler.DependencyState{
			ID: d.DependsOn.String(), Name: d.Name, Status: d.Status, Result: d.Result,
		})
	}
	info := make(map[string]lifecycle.Ref, len(sessions))
	keySet := map[string]bool{}
	users, projects, domains := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}, map[string]bool{}
	for _, s := range sessions {
		ks := kernelsOf[s.ID]
		if _, bad := l.bad[s.ID]; bad || len(ks) == 0 {
			continue // a session without kernels cannot be placed; it is still being created
		}
		ss := scheduler.Session{
			ID: s.ID.String(), Name: s.Name, AccessKey: s.AccessKey, UserUUID: s.UserUuid.String(),
			ProjectID: s.GroupID.String(), Domain: s.DomainName, Type: strings.ToLower(string(s.SessionType)),
			ClusterMode: s.ClusterMode, Private: private[s.ID], Kernels: ks, StartsAt: s.StartsAt,
			CreatedAt: s.CreatedAt, Dependencies: depsOf[s.ID], Retries: retriesOf(s.StatusData),
		}
		snap.Pending = append(snap.Pending, ss)
		ref := refOf[s.ID]
		ref.MainKernel = ks[0].ID
		info[ss.ID] = ref
		keySet[s.AccessKey] = true
		users[s.UserUuid] = true
		projects[s.GroupID] = true
		domains[s.DomainName] = true
	}
	if err := l.loadKeypairs(ctx, snap, slices.Sorted(maps.Keys(keySet))); err != nil {
		return nil, nil, err
	}
	if err := l.loadOwnerLimits(ctx, snap, slices.Collect(maps.Keys(users)), slices.Collect(maps.Keys(projects)),
		slices.Sorted(maps.Keys(domains))); err != nil {
		return nil, nil, err
	}
	l.dropInvalid(snap, info)
	if err := snap.Validate(); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	return snap, info, nil
}

// dropInvalid takes out of the snapshot, and rejects, the pending sessions the scheduler
// would refuse (Snapshot.Validate), checking each alone so that one never fails the pass.
func (l *loader) dropInvalid(snap *scheduler.Snapshot, info map[string]lifecycle.Ref) {
	if snap.Validate() == nil {
		return
	}
	none := *snap
	none.Pending = nil
	if none.Validate() != nil {
		return // not a session's fault: the pass fails and says why
	}
	all := snap.Pending
	kept := all[:0:0]
	for i := range all {
		one := *snap
		one.Pending = all[i : i+1]
		if err := one.Validate(); err != nil {
			id, perr := uuid.Parse(all[i].ID)
			if perr == nil {
				l.reject(id, info[all[i].ID], statusInfoInvalidSession, err.Error())
				delete(info, all[i].ID)
				continue
			}
		}
		kept = append(kept, all[i])
	}
	snap.Pending = kept
}

// loadOwnerLimits fills the user, project and domain limits of the snapshot and what those
// owners occupy in every scaling group. A user without a main access key gets no entry, which
// fails the user_resource_limit predicate as in Backend.AI; a project or domain without
// total_resource_slots has no limit. An unreadable policy limits to nothing (logged), and an
// unreadable occupancy row is left out (logged).
func (l *loader) loadOwnerLimits(ctx context.Context, snap *scheduler.Snapshot, users, projects []uuid.UUID, domains []string) error {
	tx := l.tx
	names, types := snap.SlotNames, snap.SlotTypes
	snap.Limits.Projects = map[string][]int64{}
	snap.Limits.Domains = map[string][]int64{}
	snap.Usage.Users = map[string][]int64{}
	snap.Usage.Projects = map[string][]int64{}
	snap.Usage.Domains = map[string][]int64{}
	policies, err := db.Q.ScheduleUserPolicies(ctx, tx, users)
	if err != nil {
		return fmt.Errorf("load user policies: %w", err)
	}
	for _, p := range policies {
		v, err := policyLimit(names, types, p.TotalResourceSlots, p.DefaultForUnspecified == "UNLIMITED")
		if err != nil {
			l.logger.Error("schedule pass: unreadable resource policy limits the user to nothing", "user", p.UserUuid, "error", err)
			v = make([]int64, len(names))
		}
		snap.Limits.Users[p.UserUuid.String()] = v
	}
	limit := func(what string, raw []byte) []int64 {
		total, err := decodeSlots(raw)
		if err == nil && len(total) == 0 {
			return nil
		}
		var v []int64
		if err == nil {
			v, err = scheduler.PolicySlots(names, types, total, true)
		}
		if err != nil {
			l.logger.Error("schedule pass: unreadable total_resource_slots limits to nothing", "owner", what, "error", err)
			return make([]int64, len(names))
		}
		return v
	}
	prows, err := db.Q.ScheduleProjectLimits(ctx, tx, projects)
	if err != nil {
		return fmt.Errorf("load project limits: %w", err)
	}
	for _, p := range prows {
		snap.Limits.Projects[p.ID.String()] = limit("project "+p.ID.String(), p.TotalResourceSlots)
	}
	drows, err := db.Q.ScheduleDomainLimits(ctx, tx, domains)
	if err != nil {
		return fmt.Errorf("load domain limits: %w", err)
	}
	for _, d := range drows {
		snap.Limits.Domains[d.Name] = limit("domain "+d.Name, d.TotalResourceSlots)
	}
	occ, err := db.Q.ScheduleOwnerOccupancy(ctx, tx, &dbsqlc.ScheduleOwnerOccupancyParams{
		UserUuids: users, ProjectIds: projects, Domains: domains,
	})
	if err != nil {
		return fmt.Errorf("load owner occupancy: %w", err)
	}
	add := func(m map[string][]int64, key string, v []int64) {
		if m[key] == nil {
			m[key] = make([]int64, len(names))
		}
		addVec(m[key], v)
	}
	for _, o := range occ {
		v, err := l.usage(names, types, o.OccupiedSlots)
		if err != nil {
			l.logger.Error("schedule pass: unreadable occupied_slots left out of the usage", "user", o.UserUuid, "error", err)
			continue
		}
		add(snap.Usage.Users, o.UserUuid.String(), v)
		add(snap.Usage.Projects, o.GroupID.String(), v)
		add(snap.Usage.Domains, o.DomainName, v)
	}
	return nil
}

// usage parses a stored occupied or requested slot map into a vector over names.
func (l *loader) usage(names []string, types map[string]string, raw []byte) ([]int64, error) {
	m, err := decodeSlots(raw)
	if err != nil {
		return nil, err
	}
	return parseKnown(names, types, m)
}

// policyLimit parses the total_resource_slots of a policy into a limit vector.
func policyLimit(names []string, types map[string]string, raw []byte, defaultUnlimited bool) ([]int64, error) {
	total, err := decodeSlots(raw)
	if err != nil {
		return nil, err
	}
	return scheduler.PolicySlots(names, types, total, defaultUnlimited)
}

// retriesOf returns status_data.scheduler.retries.
func retriesOf(statusData []byte) int {
	var d struct {
		Scheduler struct {
			Retries int `json:"retries"`
		} `json:"scheduler"`
	}
	if len(statusData) == 0 || json.Unmarshal(statusData, &d) != nil || d.Scheduler.Retries < 0 {
		return 0
	}
	return d.Scheduler.Retries
}

// loadKeypairs fills the keypair policies and usage of the snapshot's access keys. An
// unreadable policy limits the key to nothing (logged); the sessions of a key without a
// policy are rejected by dropInvalid.
func (l *loader) loadKeypairs(ctx context.Context, snap *scheduler.Snapshot, keys []string) error {
	tx := l.tx
	names, types := snap.SlotNames, snap.SlotTypes
	policies, err := db.Q.ScheduleKeypairPolicies(ctx, tx, keys)
	if err != nil {
		return fmt.Errorf("load keypair policies: %w", err)
	}
	for _, p := range policies {
		totalV, err := policyLimit(names, types, p.TotalResourceSlots, p.DefaultForUnspecified == "UNLIMITED")
		if err != nil {
			l.logger.Error("schedule pass: unreadable keypair resource policy limits the key to nothing", "access_key", p.AccessKey, "error", err)
			totalV = make([]int64, len(names))
		}
		kp := scheduler.KeypairPolicy{
			TotalSlots:                totalV,
			MaxConcurrentSessions:     int(p.MaxConcurrentSessions),
			MaxConcurrentSFTPSessions: int(p.MaxConcurrentSftpSessions),
		}
		if p.MaxPendingSessionCount != nil {
			n := int(*p.MaxPendingSessionCount)
			kp.MaxPendingSessionCount = &n
		}
		pending, err := decodeSlots(p.MaxPendingSessionResourceSlots)
		if err == nil && len(pending) > 0 {
			kp.MaxPendingSessionResourceSlots, err = scheduler.PolicySlots(names, types, pending, false)
		}
		if err != nil {
			l.logger.Error("schedule pass: unreadable max_pending_session_resource_slots limits the key to nothing", "access_key", p.AccessKey, "error", err)
			kp.MaxPendingSessionResourceSlots = make([]int64, len(names))
		}
		snap.Limits.Keypairs[p.AccessKey] = kp
	}
	usage := make(map[string]*scheduler.KeypairUsage, len(keys))
	for _, k := range keys {
		usage[k] = &scheduler.KeypairUsage{
			Occupied: make([]int64, len(names)), GroupOccupied: make([]int64, len(names)),
			PendingSlots: make([]int64, len(names)),
		}
	}
	occ, err := db.Q.ScheduleKeypairOccupancy(ctx, tx, keys)
	if err != nil {
		return fmt.Errorf("load keypair occupancy: %w", err)
	}
	for _, o := range occ {
		v, err := l.usage(names, types, o.OccupiedSlots)
		if err != nil {
			l.logger.Error("schedule pass: unreadable occupied_slots left out of the usage", "access_key", o.AccessKey, "error", err)
			continue
		}
		u := usage[o.AccessKey]
		addVec(u.Occupied, v)
		if o.ScalingGroup != nil && *o.ScalingGroup == snap.ScalingGroup.Name {
			addVec(u.GroupOccupied, v)
		}
	}
	live, err := db.Q.ScheduleKeypairSessions(ctx, tx, keys)
	if err != nil {
		return fmt.Errorf("load keypair sessions: %w", err)
	}
	for _, s := range live {
		u := usage[s.AccessKey]
		if s.Status != lifecycle.Pending {
			u.ConcurrencyUsed++
			continue
		}
		u.PendingCount++
		v, err := vectorOnce(&l.pending, s.RequestedSlots, func() ([]int64, error) { return l.usage(names, types, s.RequestedSlots) })
		if err != nil {
			continue // that session is rejected when its scaling group is scheduled
		}
		addVec(u.PendingSlots, v)
	}
	for k, u := range usage {
		snap.Usage.Keypairs[k] = *u
	}
	return nil
}

// addVec adds v to dst element-wise.
func addVec(dst, v []int64) {
	for i := range v {
		dst[i] += v[i]
	}
}
