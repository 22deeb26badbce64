package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// agentBatch is the kernels of one session placed on one agent.
type agentBatch struct {
	addr    string
	kernels []*dbsqlc.KernelListBySessionRow
	req     agentrpc.CreateKernelsRequest
}

// HandleSessionStart moves a SCHEDULED session to PREPARING and asks each of its agents to
// create its kernels. When every agent created them, the kernels and the session become
// RUNNING (kernel_started, session_started). When an agent fails or cannot be reached, the
// kernels already created are destroyed best effort, the kernels and the session become
// ERROR with status_info "failed-to-start", and their slots are released.
//
// A redelivered task finds the session PREPARING and retries the creation, which agents
// treat as idempotent; a session in any later status is left alone.
func (h *Handlers) HandleSessionStart(ctx context.Context, t *asynq.Task) error {
	var p jobs.SessionStartPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	sid, err := uuid.Parse(p.SessionID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", p.SessionID, err))
	}
	now := h.now()
	var (
		sess      *dbsqlc.SessionGetForLifecycleRow
		kernels   []*dbsqlc.KernelListBySessionRow
		images    map[string]*dbsqlc.ImageGetForKernelRow
		preparing []*dbsqlc.KernelTransitionRow
	)
	err = db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || (status != lifecycle.Scheduled && status != lifecycle.Preparing) {
			return err
		}
		if _, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{From: []string{lifecycle.Scheduled, lifecycle.Preparing}, To: lifecycle.Preparing}, now); err != nil {
			return err
		}
		if preparing, err = lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{From: []string{lifecycle.Scheduled}, To: lifecycle.Preparing}, now); err != nil {
			return err
		}
		if sess, err = db.Q.SessionGetForLifecycle(ctx, tx, sid); err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		if kernels, err = db.Q.KernelListBySession(ctx, tx, sid); err != nil {
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
			if err == nil {
				images[key] = img
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("start session %s: %w", sid, err)
	}
	if sess == nil {
		h.logger.Debug("session not startable; ignored", "session", sid)
		return nil
	}
	ref := lifecycle.RefOfSession(sess)
	// kernel_preparing for the kernels this task moved to PREPARING (not again on a redelivery).
	prepEvents := make([]events.Event, 0, len(preparing))
	for _, k := range preparing {
		prepEvents = append(prepEvents, ref.KernelEvent(events.KernelPreparing, k, "", nil, now))
	}
	h.publish(ctx, prepEvents...)
	batches, err := buildRequests(sess, kernels, images)
	if err != nil {
		return h.failStart(ctx, sid, ref, err, nil)
	}
	var created []agentrpc.KernelCreated
	var done []*agentBatch
	for _, b := range batches {
		rep, err := h.createKernels(ctx, b)
		if err != nil && ctx.Err() != nil {
			// The worker is shutting down: leave the session PREPARING for a redelivery.
			return fmt.Errorf("start session %s: %w", sid, err)
		}
		if err != nil {
			return h.failStart(ctx, sid, ref, err, done)
		}
		done = append(done, b)
		created = append(created, rep.Kernels...)
	}
	return h.finishStart(ctx, sid, ref, created)
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
func buildRequests(sess *dbsqlc.SessionGetForLifecycleRow, kernels []*dbsqlc.KernelListBySessionRow, images map[string]*dbsqlc.ImageGetForKernelRow) ([]*agentBatch, error) {
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
		slotsMap, err := decodeSlots(k.OccupiedSlots)
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

// finishStart records the created kernels and moves the kernels and the session to RUNNING.
func (h *Handlers) finishStart(ctx context.Context, sid uuid.UUID, ref lifecycle.Ref, created []agentrpc.KernelCreated) error {
	now := h.now()
	var evs []events.Event
	err := db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status != lifecycle.Preparing {
			return err
		}
		for i := range created {
			kc := &created[i]
			kid, err := uuid.Parse(kc.KernelID)
			if err != nil {
				return fmt.Errorf("agent reported kernel id %q: %w", kc.KernelID, err)
			}
			ports := kc.ServicePorts
			if ports == nil {
				ports = []agentrpc.ServicePort{}
			}
			sp, err := json.Marshal(servicePortsJSON(ports))
			if err != nil {
				return fmt.Errorf("encode service ports: %w", err)
			}
			if err := db.Q.KernelSetStarted(ctx, tx, &dbsqlc.KernelSetStartedParams{
				ContainerID: lifecycle.Str(kc.ContainerID), KernelHost: lifecycle.Str(kc.KernelHost),
				ReplInPort: int32(kc.ReplInPort), ReplOutPort: int32(kc.ReplOutPort),
				StdinPort: int32(kc.StdinPort), StdoutPort: int32(kc.StdoutPort), ServicePorts: sp, ID: kid,
			}); err != nil {
				return fmt.Errorf("record kernel %s: %w", kid, err)
			}
		}
		ks, err := lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{From: []string{lifecycle.Scheduled, lifecycle.Preparing}, To: lifecycle.Running}, now)
		if err != nil {
			return err
		}
		row, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{From: []string{lifecycle.Preparing}, To: lifecycle.Running}, now)
		if err != nil || row == nil {
			return err
		}
		ref = lifecycle.RefOf(row)
		all, err := db.Q.KernelListBySession(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("load kernels: %w", err)
		}
		if len(all) > 0 {
			ref.MainKernel = all[0].ID.String()
		}
		for _, k := range ks {
			evs = append(evs, ref.KernelEvent(events.KernelStarted, k, "", nil, now))
		}
		evs = append(evs, ref.SessionEvent(events.SessionStarted, "", lifecycle.Running, nil, now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("start session %s: record: %w", sid, err)
	}
	h.publish(ctx, evs...)
	return nil
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

// failStart destroys the kernels the agents in done created (best effort) and ends the
// session and its kernels in ERROR with status_info "failed-to-start", releasing their slots.
func (h *Handlers) failStart(ctx context.Context, sid uuid.UUID, ref lifecycle.Ref, cause error, done []*agentBatch) error {
	h.logger.Warn("session failed to start", "session", sid, "error", cause)
	for _, b := range done {
		for _, k := range b.kernels {
			c, err := h.rpc.Get(b.addr)
			if err != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, h.rpcTimeout)
			_ = c.DestroyKernel(cctx, &agentrpc.DestroyKernelRequest{KernelID: k.ID.String(), SessionID: sid.String(), Reason: lifecycle.ReasonFailedToStart})
			cancel()
		}
	}
	now := h.now()
	errData := map[string]any{"error": map[string]any{"src": "agent", "name": errorName(cause), "repr": cause.Error()}}
	var evs []events.Event
	err := db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || (status != lifecycle.Preparing && status != lifecycle.Scheduled) {
			return err
		}
		c := lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Error, Info: lifecycle.Str(lifecycle.ReasonFailedToStart), Data: errData}
		ks, err := lifecycle.Kernels(ctx, tx, sid, nil, c, now)
		if err != nil {
			return err
		}
		if err := lifecycle.ReleaseSession(ctx, tx, sid); err != nil {
			return err
		}
		c.From = []string{lifecycle.Scheduled, lifecycle.Preparing}
		row, err := lifecycle.Session(ctx, tx, sid, c, now)
		if err != nil || row == nil {
			return err
		}
		ref = lifecycle.RefOf(row)
		ref.MainKernel = lifecycle.MainKernelOf(ks)
		for _, k := range ks {
			evs = append(evs, ref.KernelEvent(events.KernelCancelled, k, lifecycle.ReasonFailedToStart, nil, now))
		}
		evs = append(evs, ref.SessionEvent(events.SessionCancelled, lifecycle.ReasonFailedToStart, lifecycle.Error, nil, now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("start session %s: record failure: %w", sid, err)
	}
	h.publish(ctx, evs...)
	return nil
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
