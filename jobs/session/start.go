package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/slots"
	"github.com/hangar-run/hangar/jobs"
)

// agentBatch is the kernels of one session placed on one agent.
type agentBatch struct {
	addr    string
	kernels []*dbsqlc.KernelListBySessionsRow
	req     agentrpc.CreateKernelsRequest
}

// maxStartCalls bounds the create_kernels calls one start task has in flight at once.
const maxStartCalls = 64

// starting is one session of a start task on its way from PREPARING to RUNNING or ERROR.
type starting struct {
	row *dbsqlc.SessionClaimStartRow
	ref lifecycle.Ref
	// kernels are the session's kernels, main kernel first.
	kernels []*dbsqlc.KernelListBySessionsRow
	// created are what the agents reported, when every call succeeded.
	created []agentrpc.KernelCreated
	// err is why the session failed to start (nil when it started).
	err error
}

// HandleSessionStart starts one session: it is HandleSessionStartBatch over a batch of one
// (the schedule tick enqueues it for a session whose batch was lost or whose worker died).
func (h *Handlers) HandleSessionStart(ctx context.Context, t *asynq.Task) error {
	var p jobs.SessionStartPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	sid, err := uuid.Parse(p.SessionID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", p.SessionID, err))
	}
	return h.startSessions(ctx, []uuid.UUID{sid})
}

// HandleSessionStartBatch starts the sessions a schedule pass placed. In one transaction it
// claims those that are SCHEDULED (or PREPARING for longer than jobs.PreparingRetryAfter, or on a
// retry of the task, whose earlier attempt may have died), moving them and their kernels to
// PREPARING; then, with no transaction open, it asks their agents to create the kernels, at
// most maxStartCalls calls at once; then in one more transaction it records the outcome.
// When every agent of a session created its kernels, the kernels and the session become
// RUNNING (kernel_started, session_started). When an agent fails or cannot be reached, the
// kernels already created are destroyed best effort, and the kernels and the session become
// ERROR with status_info "failed-to-start", their slots released; the other sessions of the
// batch are not affected.
//
// A session already claimed by another task (a duplicate delivery, or the tick's single
// start) is left to it, so each session is started once; a session in any later status is
// left alone.
func (h *Handlers) HandleSessionStartBatch(ctx context.Context, t *asynq.Task) error {
	var p jobs.SessionStartBatchPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(p.SessionIDs))
	for _, s := range p.SessionIDs {
		id, err := uuid.Parse(s)
		if err != nil {
			return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", s, err))
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	return h.startSessions(ctx, ids)
}

// startSessions is the work of HandleSessionStartBatch.
func (h *Handlers) startSessions(ctx context.Context, ids []uuid.UUID) error {
	now := h.Now()
	preparingBefore := now.Add(-jobs.PreparingRetryAfter)
	if n, ok := asynq.GetRetryCount(ctx); ok && n > 0 {
		// An earlier attempt of this task failed or its worker died after claiming.
		preparingBefore = now.Add(time.Microsecond)
	}
	var (
		claimed   []*dbsqlc.SessionClaimStartRow
		kernels   []*dbsqlc.KernelListBySessionsRow
		images    map[string]*dbsqlc.ImageGetForKernelRow
		preparing []*dbsqlc.KernelTransitionManyRow
	)
	err := db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		var err error
		if claimed, err = lifecycle.ClaimStart(ctx, tx, ids, preparingBefore, now); err != nil || len(claimed) == 0 {
			return err
		}
		cids := make([]uuid.UUID, len(claimed))
		for i, c := range claimed {
			cids[i] = c.ID
		}
		if preparing, err = lifecycle.KernelsMany(ctx, tx, cids, lifecycle.Change{From: []string{lifecycle.Scheduled}, To: lifecycle.Preparing}, now); err != nil {
			return err
		}
		if kernels, err = db.Q.KernelListBySessions(ctx, tx, cids); err != nil {
			return fmt.Errorf("load kernels: %w", err)
		}
		images = map[string]*dbsqlc.ImageGetForKernelRow{}
		for _, k := range kernels {
			if k.Image == nil {
				continue
			}
			key := *k.Image + "\x00" + k.Architecture
			if _, ok := images[key]; ok {
				continue
			}
			img, err := db.Q.ImageGetForKernel(ctx, tx, &dbsqlc.ImageGetForKernelParams{Name: *k.Image, Architecture: k.Architecture})
			if err != nil && !db.IsNotFound(err) {
				return fmt.Errorf("load image %s: %w", *k.Image, err)
			}
			if err != nil {
				img = nil // unknown image: the kernel's own fields describe it
			}
			images[key] = img
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("start %d sessions: %w", len(ids), err)
	}
	if len(claimed) == 0 {
		h.Logger.Debug("no session startable; ignored", "sessions", len(ids))
		return nil
	}
	sessions := make([]*starting, len(claimed))
	byID := make(map[uuid.UUID]*starting, len(claimed))
	for i, c := range claimed {
		sessions[i] = &starting{row: c, ref: lifecycle.RefOfClaimed(c)}
		byID[c.ID] = sessions[i]
	}
	for _, k := range kernels {
		if s := byID[k.SessionID]; s != nil {
			s.kernels = append(s.kernels, k)
		}
	}
	// kernel_preparing for the kernels this task moved to PREPARING (not again on a retry).
	prepEvents := make([]events.Event, 0, len(preparing))
	for _, k := range preparing {
		if s := byID[k.SessionID]; s != nil {
			prepEvents = append(prepEvents, s.ref.KernelEvent(events.KernelPreparing, lifecycle.KernelRow(k), "", nil, now))
		}
	}
	h.Publish(ctx, prepEvents...)

	sem := make(chan struct{}, maxStartCalls)
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.startOne(ctx, s, images, sem)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// The worker is shutting down: leave the sessions PREPARING for a retry.
		return fmt.Errorf("start %d sessions: %w", len(sessions), err)
	}
	return h.settleStart(ctx, sessions)
}

// startOne asks each agent of s to create its kernels, one agent after the other, holding a
// slot of sem during each call. On a failure it destroys the kernels created so far (best
// effort) and records the cause in s.err.
func (h *Handlers) startOne(ctx context.Context, s *starting, images map[string]*dbsqlc.ImageGetForKernelRow, sem chan struct{}) {
	batches, err := buildRequests(s.row, s.kernels, images)
	if err != nil {
		s.err = err
		return
	}
	var done []*agentBatch
	for _, b := range batches {
		sem <- struct{}{}
		rep, err := h.createKernels(ctx, b)
		<-sem
		if err != nil {
			if ctx.Err() == nil {
				h.destroyCreated(ctx, s.row.ID, done)
			}
			s.err = err
			return
		}
		done = append(done, b)
		s.created = append(s.created, rep.Kernels...)
	}
}

// createKernels calls create_kernels on one agent.
func (h *Handlers) createKernels(ctx context.Context, b *agentBatch) (*agentrpc.CreateKernelsReply, error) {
	c, err := h.rpc.Get(b.addr)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", b.addr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, h.rpcTimeout)
	defer cancel()
	return c.CreateKernels(cctx, &b.req)
}

// buildRequests groups a session's kernels per agent address into create_kernels requests.
func buildRequests(sess *dbsqlc.SessionClaimStartRow, kernels []*dbsqlc.KernelListBySessionsRow, images map[string]*dbsqlc.ImageGetForKernelRow) ([]*agentBatch, error) {
	environ := map[string]string{}
	if len(sess.Environ) > 0 {
		var raw map[string]any
		if err := json.Unmarshal(sess.Environ, &raw); err != nil {
			return nil, fmt.Errorf("session environ: %w", err)
		}
		for k, v := range raw {
			environ[k] = fmt.Sprint(v)
		}
	}
	replicas := map[string]int{}
	for _, k := range kernels {
		replicas[k.ClusterRole]++
	}
	cluster := agentrpc.ClusterInfo{Mode: sess.ClusterMode, Size: len(kernels), Replicas: replicas}
	var out []*agentBatch
	byAddr := map[string]*agentBatch{}
	for _, k := range kernels {
		if k.AgentAddr == nil || *k.AgentAddr == "" {
			return nil, fmt.Errorf("kernel %s has no agent address", k.ID)
		}
		b := byAddr[*k.AgentAddr]
		if b == nil {
			b = &agentBatch{addr: *k.AgentAddr, req: agentrpc.CreateKernelsRequest{SessionID: sess.ID.String(), Cluster: cluster}}
			byAddr[*k.AgentAddr] = b
			out = append(out, b)
		}
		slotsMap, err := slots.DecodeMap(k.OccupiedSlots)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.ID, err)
		}
		env := make(map[string]string, len(environ)+len(k.Environ))
		for key, v := range environ {
			env[key] = v
		}
		for _, kv := range k.Environ {
			if key, v, ok := strings.Cut(kv, "="); ok {
				env[key] = v
			}
		}
		kc := agentrpc.KernelConfig{
			KernelID: k.ID.String(), SessionID: sess.ID.String(), SessionType: strings.ToLower(sess.SessionType),
			ClusterRole: k.ClusterRole, ClusterIdx: int(k.ClusterIdx), LocalRank: int(k.LocalRank),
			ClusterHostname: k.ClusterHostname, ResourceSlots: slotsMap, Environ: env, AgentAddr: *k.AgentAddr,
		}
		if k.ScalingGroup != nil {
			kc.ScalingGroup = *k.ScalingGroup
		}
		if len(k.ResourceOpts) > 0 {
			_ = json.Unmarshal(k.ResourceOpts, &kc.ResourceOpts)
		}
		if len(k.InternalData) > 0 {
			_ = json.Unmarshal(k.InternalData, &kc.InternalData)
		}
		if k.StartupCommand != nil {
			kc.StartupCommand = *k.StartupCommand
		} else if sess.StartupCommand != nil {
			kc.StartupCommand = *sess.StartupCommand
		}
		if k.BootstrapScript != nil {
			kc.BootstrapScript = *k.BootstrapScript
		} else if sess.BootstrapScript != nil {
			kc.BootstrapScript = *sess.BootstrapScript
		}
		for _, port := range k.PreopenPorts {
			kc.PreopenPorts = append(kc.PreopenPorts, int(port))
		}
		if k.Image != nil {
			kc.Image = agentrpc.ImageRef{Canonical: *k.Image, Architecture: k.Architecture}
			if k.Registry != nil {
				kc.Image.Registry = agentrpc.ImageRegistry{Name: *k.Registry}
			}
			if img := images[*k.Image+"\x00"+k.Architecture]; img != nil {
				kc.Image.Digest = strings.TrimSpace(img.ConfigDigest)
				kc.Image.IsLocal = img.IsLocal
				kc.Image.Registry.Name = img.Registry
				labels := map[string]string{}
				var raw map[string]any
				if len(img.Labels) > 0 && json.Unmarshal(img.Labels, &raw) == nil {
					for key, v := range raw {
						labels[key] = fmt.Sprint(v)
					}
				}
				kc.Image.Labels = labels
				kc.Image.RuntimeType = labels["ai.backend.runtime-type"]
				kc.Image.RuntimePath = labels["ai.backend.runtime-path"]
			}
		}
		b.kernels = append(b.kernels, k)
		b.req.Kernels = append(b.req.Kernels, kc)
	}
	return out, nil
}

// servicePortsJSON converts service ports to the JSON kernels.service_ports holds.
func servicePortsJSON(ports []agentrpc.ServicePort) []map[string]any {
	out := make([]map[string]any, 0, len(ports))
	for _, p := range ports {
		out = append(out, map[string]any{
			"name": p.Name, "protocol": p.Protocol, "container_ports": p.ContainerPorts,
			"host_ports": p.HostPorts, "is_inference": p.IsInference,
		})
	}
	return out
}

// destroyCreated destroys, best effort, the kernels the agents in done created for session
// sid.
func (h *Handlers) destroyCreated(ctx context.Context, sid uuid.UUID, done []*agentBatch) {
	for _, b := range done {
		c, err := h.rpc.Get(b.addr)
		if err != nil {
			continue
		}
		for _, k := range b.kernels {
			cctx, cancel := context.WithTimeout(ctx, h.rpcTimeout)
			_ = c.DestroyKernel(cctx, &agentrpc.DestroyKernelRequest{KernelID: k.ID.String(), SessionID: sid.String(), Reason: lifecycle.ReasonFailedToStart})
			cancel()
		}
	}
}

// settleStart records, in one transaction, the outcome of the create calls of sessions: the
// sessions still PREPARING whose kernels were all created, and those kernels, become RUNNING
// with what the agents reported; those that failed, and their live kernels, become ERROR
// with status_info "failed-to-start" and their slots are released (exactly once, through
// kernels.slots_reserved). Events are published after commit, in one pipeline.
func (h *Handlers) settleStart(ctx context.Context, sessions []*starting) error {
	now := h.Now()
	var (
		ids, okIDs []uuid.UUID
		failed     []*starting
		evs        []events.Event
	)
	byID := make(map[uuid.UUID]*starting, len(sessions))
	for _, s := range sessions {
		ids = append(ids, s.row.ID)
		byID[s.row.ID] = s
		if s.err == nil {
			okIDs = append(okIDs, s.row.ID)
		} else {
			failed = append(failed, s)
		}
	}
	// What the agents reported, by session, as the columns of KernelSetStartedMany.
	reported := map[uuid.UUID]*dbsqlc.KernelSetStartedManyParams{}
	for _, s := range sessions {
		if s.err != nil {
			continue
		}
		r := &dbsqlc.KernelSetStartedManyParams{}
		reported[s.row.ID] = r
		for i := range s.created {
			kc := &s.created[i]
			kid, err := uuid.Parse(kc.KernelID)
			if err != nil {
				return fmt.Errorf("start session %s: agent reported kernel id %q: %w", s.row.ID, kc.KernelID, err)
			}
			ports := kc.ServicePorts
			if ports == nil {
				ports = []agentrpc.ServicePort{}
			}
			sp, err := json.Marshal(servicePortsJSON(ports))
			if err != nil {
				return fmt.Errorf("encode service ports: %w", err)
			}
			r.IDs = append(r.IDs, kid)
			r.ContainerIds = append(r.ContainerIds, kc.ContainerID)
			r.KernelHosts = append(r.KernelHosts, kc.KernelHost)
			r.ReplInPorts = append(r.ReplInPorts, int32(kc.ReplInPort))
			r.ReplOutPorts = append(r.ReplOutPorts, int32(kc.ReplOutPort))
			r.StdinPorts = append(r.StdinPorts, int32(kc.StdinPort))
			r.StdoutPorts = append(r.StdoutPorts, int32(kc.StdoutPort))
			r.ServicePorts = append(r.ServicePorts, string(sp))
		}
	}
	for _, s := range failed {
		h.Logger.Warn("session failed to start", "session", s.row.ID, "error", s.err)
	}
	err := db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		evs = evs[:0]
		// Rows are locked in id order first, as every lifecycle change locks the session
		// before its kernels.
		if _, err := lifecycle.LockSessions(ctx, tx, ids, []string{lifecycle.Scheduled, lifecycle.Preparing}); err != nil {
			return err
		}
		if len(okIDs) > 0 {
			rows, err := lifecycle.SessionsMany(ctx, tx, okIDs, lifecycle.Change{From: []string{lifecycle.Preparing}, To: lifecycle.Running}, now)
			if err != nil {
				return err
			}
			moved := make([]uuid.UUID, len(rows))
			started := &dbsqlc.KernelSetStartedManyParams{}
			for i, r := range rows {
				moved[i] = r.ID
				if k := reported[r.ID]; k != nil {
					started.IDs = append(started.IDs, k.IDs...)
					started.ContainerIds = append(started.ContainerIds, k.ContainerIds...)
					started.KernelHosts = append(started.KernelHosts, k.KernelHosts...)
					started.ReplInPorts = append(started.ReplInPorts, k.ReplInPorts...)
					started.ReplOutPorts = append(started.ReplOutPorts, k.ReplOutPorts...)
					started.StdinPorts = append(started.StdinPorts, k.StdinPorts...)
					started.StdoutPorts = append(started.StdoutPorts, k.StdoutPorts...)
					started.ServicePorts = append(started.ServicePorts, k.ServicePorts...)
				}
			}
			if len(moved) > 0 {
				if len(started.IDs) > 0 {
					if err := db.Q.KernelSetStartedMany(ctx, tx, started); err != nil {
						return fmt.Errorf("record started kernels: %w", db.Translate(err))
					}
				}
				ks, err := lifecycle.KernelsMany(ctx, tx, moved, lifecycle.Change{From: []string{lifecycle.Scheduled, lifecycle.Preparing}, To: lifecycle.Running}, now)
				if err != nil {
					return err
				}
				kernelsOf := map[uuid.UUID][]*dbsqlc.KernelTransitionManyRow{}
				for _, k := range ks {
					kernelsOf[k.SessionID] = append(kernelsOf[k.SessionID], k)
				}
				for _, r := range rows {
					s := byID[r.ID]
					ref := s.ref
					if len(s.kernels) > 0 {
						ref.MainKernel = s.kernels[0].ID.String()
					}
					for _, k := range kernelsOf[r.ID] {
						evs = append(evs, ref.KernelEvent(events.KernelStarted, lifecycle.KernelRow(k), "", nil, now))
					}
					evs = append(evs, ref.SessionEvent(events.SessionStarted, "", lifecycle.Running, nil, now))
				}
			}
		}
		for _, s := range failed {
			fe, err := failStart(ctx, tx, s, now)
			if err != nil {
				return err
			}
			evs = append(evs, fe...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("start %d sessions: record: %w", len(sessions), err)
	}
	h.Publish(ctx, evs...)
	return nil
}

// failStart ends, in tx, session s (when still SCHEDULED or PREPARING) and its live kernels
// in ERROR with status_info "failed-to-start", releasing their slots, and returns the
// events to publish.
func failStart(ctx context.Context, tx pgx.Tx, s *starting, now time.Time) ([]events.Event, error) {
	sid := s.row.ID
	errData := map[string]any{"error": map[string]any{"src": "agent", "name": errorName(s.err), "repr": s.err.Error()}}
	status, err := lifecycle.LockSession(ctx, tx, sid)
	if err != nil || (status != lifecycle.Preparing && status != lifecycle.Scheduled) {
		return nil, err
	}
	c := lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Error, Info: lifecycle.Str(lifecycle.ReasonFailedToStart), Data: errData}
	ks, err := lifecycle.Kernels(ctx, tx, sid, nil, c, now)
	if err != nil {
		return nil, err
	}
	if err := lifecycle.ReleaseSession(ctx, tx, sid); err != nil {
		return nil, err
	}
	c.From = []string{lifecycle.Scheduled, lifecycle.Preparing}
	row, err := lifecycle.Session(ctx, tx, sid, c, now)
	if err != nil || row == nil {
		return nil, err
	}
	ref := lifecycle.RefOf(row)
	ref.MainKernel = lifecycle.MainKernelOf(ks)
	evs := make([]events.Event, 0, len(ks)+1)
	for _, k := range ks {
		evs = append(evs, ref.KernelEvent(events.KernelCancelled, k, lifecycle.ReasonFailedToStart, nil, now))
	}
	evs = append(evs, ref.SessionEvent(events.SessionCancelled, lifecycle.ReasonFailedToStart, lifecycle.Error, nil, now))
	return evs, nil
}

// errorName names the kind of an agent call error for status_data.
func errorName(err error) string {
	var re *agentrpc.RemoteError
	switch {
	case errors.As(err, &re):
		return "AgentError:" + string(re.Kind)
	case errors.Is(err, agentrpc.ErrTimeout):
		return "AgentTimeout"
	default:
		return "AgentError"
	}
}
