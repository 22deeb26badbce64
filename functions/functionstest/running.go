package functionstest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/auth"
)

// HostArch is this machine's architecture in Backend.AI's spelling (the server's default for
// images and agents).
func HostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// RunningSession inserts a RUNNING session named name of creds' owner, in the owner's default
// project, with its RUNNING main kernel (1 CPU, 256 MiB of image) placed on the agent agentID
// at agentAddr, and creates the kernel on that agent. It returns the session and kernel ids.
func (e *Env) RunningSession(t testing.TB, agentID, agentAddr, name, image string, creds *auth.Credentials) (sid, kid uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	sid, kid = uuid.New(), uuid.New()
	var userUUID, domain, projectID string
	require.NoError(t, e.DB.Pool.QueryRow(ctx, `SELECT k."user"::text, u.domain_name,
			(SELECT g.id::text FROM groups g WHERE g.name = 'default' AND g.domain_name = u.domain_name)
		FROM keypairs k JOIN users u ON u.uuid = k."user" WHERE k.access_key = $1`, creds.AccessKey).
		Scan(&userUUID, &domain, &projectID))
	const slots = `{"cpu":"1","mem":"268435456"}`
	now := time.Now().UTC().Format(time.RFC3339Nano)
	_, err := e.DB.Pool.Exec(ctx, `INSERT INTO sessions (id, name, session_type, scaling_group_name, domain_name, group_id,
		user_uuid, access_key, images, requested_slots, occupying_slots, agent_ids, status, status_history)
		VALUES ($1, $2, 'INTERACTIVE', 'default', $3, $4, $5, $6, ARRAY[$7::text], $8, $8, ARRAY[$9::text], 'RUNNING',
		jsonb_build_object('PENDING', $10::text, 'RUNNING', $10::text))`,
		sid, name, domain, projectID, userUUID, creds.AccessKey, image, slots, agentID, now)
	require.NoError(t, err)
	_, err = e.DB.Pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, scaling_group, agent, agent_addr,
		domain_name, group_id, user_uuid, access_key, image, registry, architecture, requested_slots, occupied_slots,
		status, status_history)
		VALUES ($1, $2, $3, 'default', $4, $5, $6, $7, $8, $9, $10, 'cr.backend.ai', $11, $12, $12, 'RUNNING',
		jsonb_build_object('PENDING', $13::text, 'RUNNING', $13::text))`,
		kid, sid, name, agentID, agentAddr, domain, projectID, userUUID, creds.AccessKey, image, HostArch(), slots, now)
	require.NoError(t, err)
	c, err := e.Deps.Agents.Get(agentAddr)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := c.CreateKernels(cctx, &agentrpc.CreateKernelsRequest{
		SessionID: sid.String(),
		Kernels: []agentrpc.KernelConfig{{
			KernelID: kid.String(), SessionID: sid.String(), SessionType: agentrpc.SessionTypeInteractive,
			ClusterRole: "main", ClusterIdx: 1, ClusterHostname: "main1",
			Image:         agentrpc.ImageRef{Canonical: image, Architecture: HostArch()},
			ResourceSlots: map[string]string{"cpu": "1", "mem": "268435456"},
		}},
		Cluster: agentrpc.ClusterInfo{Mode: "single-node", Size: 1},
	})
	require.NoError(t, err)
	require.Len(t, rep.Kernels, 1)
	_, err = e.DB.Pool.Exec(ctx, `UPDATE kernels SET container_id = $2, kernel_host = $3 WHERE id = $1`,
		kid, rep.Kernels[0].ContainerID, rep.Kernels[0].KernelHost)
	require.NoError(t, err)
	return sid, kid
}
