package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dotfile"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// admit runs the checks that need fresh data and writes the session, all in one transaction
// (one commit): that some agent of the scaling group could host the session (checkCapacity),
// the dependencies, a live session of the same name (reuseExisting: its answer is returned
// and nothing is written), the owner's pending cap, and the insert of the session and its
// kernels (main plus cluster_size-1 sub kernels) PENDING.
func admit(ctx context.Context, s *functions.Server, r *request, sid uuid.UUID, now time.Time) (*CreateOutput, error) {
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
	bootstrap := r.bootstrap
	if bootstrap == nil || *bootstrap == "" {
		bootstrap = nil
		if r.owner.Bootstrap != "" {
			bootstrap = &r.owner.Bootstrap
		}
	}
	callback := r.callback
	creationID := strings.ReplaceAll(uuid.NewString(), "-", "")[:22]
	sessType := strings.ToUpper(r.sessType)
	sg := r.sgroup
	registry, tagPart := r.img.Registry, r.img.Tag
	imageName := r.img.Name
	preopen := r.preopen
	if preopen == nil {
		preopen = []int32{}
	}
	var reused *CreateOutput
	err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
		if err := checkCapacity(ctx, tx, r); err != nil {
			return err
		}
		if err := resolveDependencies(ctx, tx, r); err != nil {
			return err
		}
		out, err := reuseExisting(ctx, tx, r)
		if err != nil || out != nil {
			reused = out
			return err
		}
		if err := checkPendingCap(ctx, tx, r); err != nil {
			return err
		}
		if err := db.Q.SessionInsert(ctx, tx, &dbsqlc.SessionInsertParams{
			ID: sid, CreationID: &creationID, Name: r.name, SessionType: sessType, ClusterMode: r.clusterMode,
			ClusterSize: int32(r.clusterSize), ScalingGroupName: &sg, TargetSgroupNames: []string{sg},
			DomainName: r.domain, GroupID: r.groupID, UserUuid: r.owner.UserUUID, AccessKey: r.owner.AccessKey,
			Images: []string{imageName}, Tag: r.tag, RequestedSlots: total, Environ: envJSON,
			BootstrapScript: bootstrap, Now: now, StartsAt: r.startsAt, StatusHistory: history,
			CallbackUrl: callback, StartupCommand: r.startup,
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
				StartsAt: r.startsAt, StatusHistory: history, CallbackUrl: callback, StartupCommand: r.startup,
				Agent: agent,
			}); err != nil {
				return err
			}
		}
		if err := storeDotfiles(ctx, s, tx, r, sid); err != nil {
			return err
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
			return nil, functions.ErrSessionAlreadyExists(nil)
		}
		return nil, functions.FromDB(err, "session")
	}
	return reused, nil
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

// storeDotfiles gives the new session's kernels the dotfiles of the owner's keypair, project
// and domain (in that priority) in their internal data, which the agent writes to the kernels'
// home. A stored list that does not decode is left out (and logged): it must not keep sessions
// from starting.
func storeDotfiles(ctx context.Context, s *functions.Server, tx pgx.Tx, r *request, sid uuid.UUID) error {
	row, err := db.Q.DotfilesForSession(ctx, tx, &dbsqlc.DotfilesForSessionParams{
		AccessKey: r.owner.AccessKey, GroupID: r.groupID, DomainName: r.domain,
	})
	if err != nil {
		return err
	}
	lists := make([][]dotfile.Dotfile, 3)
	for i, raw := range [][]byte{row.Keypair, row.Project, row.Domain} {
		files, err := dotfile.Decode(raw)
		if err != nil {
			s.Deps().Log().Warn("dotfiles left out of a new session", "session_id", sid.String(), "owner", []string{"keypair", "project", "domain"}[i], "err", err)
			continue
		}
		lists[i] = files
	}
	merged := dotfile.Merge(lists[0], lists[1], lists[2])
	if len(merged) == 0 {
		return nil
	}
	data, err := json.Marshal(map[string]any{dotfile.InternalDataKey: merged})
	if err != nil {
		return err
	}
	return db.Q.KernelSetInternalDataBySession(ctx, tx, &dbsqlc.KernelSetInternalDataBySessionParams{InternalData: data, SessionID: sid})
}
