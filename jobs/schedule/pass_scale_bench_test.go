package schedule_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"github.com/hangar-run/hangar/jobs/schedule"
)

// scaleAgents is the number of agents of BenchmarkSchedulePassScale.
const scaleAgents = 10000

// BenchmarkSchedulePassScale runs one whole schedule pass of scaling group "default" —
// loading the snapshot from PostgreSQL, planning, writing the placements, publishing the
// events and enqueueing the start — with 10,000 and 100,000 PENDING single-kernel sessions of
// (1 CPU, 4 GiB) over 10,000 ALIVE agents of (32 CPU, 128 GiB), so every session is placed.
// It reports ns/op and B/op (this process: the handler's side, not PostgreSQL's), placed per
// pass and the peak of the live Go heap during the pass above its level before (peak-heap-MB).
func BenchmarkSchedulePassScale(b *testing.B) {
	for _, pending := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("pending=%d/agents=%d", pending, scaleAgents), func(b *testing.B) {
			ctx := context.Background()
			pool, h, now := scaleEnv(b)
			_, err := pool.Exec(ctx, `
				INSERT INTO agents (id, status, scaling_group, addr, architecture)
				SELECT format('i-scale-%s', lpad(g::text, 5, '0')), 'ALIVE', 'default',
				       format('tcp://127.0.0.1:%s', 10000 + g), 'x86_64'
				FROM generate_series(1, $1::int) g`, scaleAgents)
			require.NoError(b, err)
			_, err = pool.Exec(ctx, `
				INSERT INTO agent_slots (agent_id, slot, slot_type, capacity)
				SELECT a.id, s.slot, s.slot_type, s.capacity
				FROM agents a CROSS JOIN (VALUES ('cpu', 'count', 32::numeric), ('mem', 'bytes', 137438953472::numeric))
				     AS s (slot, slot_type, capacity)
				WHERE starts_with(a.id, 'i-scale-')`)
			require.NoError(b, err)
			round := 0
			placed := 0
			var peak float64
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				round++
				scaleReset(b, pool, pending, round, now.Add(-time.Duration(pending)*time.Millisecond))
				stop := sampleHeap()
				b.StartTimer()
				err := h.HandleScheduleScalingGroup(ctx, asynq.NewTask(jobs.TypeScheduleScalingGroup, scalePayload(b, now)))
				b.StopTimer()
				peak = max(peak, stop())
				require.NoError(b, err)
				var n int
				require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE status = 'SCHEDULED'`).Scan(&n))
				require.Equal(b, pending, n, "sessions placed by the pass")
				placed += n
				b.StartTimer()
			}
			b.ReportMetric(float64(placed)/float64(b.N), "placed/pass")
			b.ReportMetric(peak/(1<<20), "peak-heap-MB")
		})
	}
}

// scalePayload is the payload of a schedule task for scaling group "default".
func scalePayload(b *testing.B, now time.Time) []byte {
	b.Helper()
	t, err := jobs.NewScheduleScalingGroupTask("default", now)
	require.NoError(b, err)
	return t.Payload()
}

// scaleEnv returns a database with the example fixtures and no session limits, and schedule
// handlers on it whose clock stands still.
func scaleEnv(b *testing.B) (*pgxpool.Pool, *schedule.Handlers, time.Time) {
	b.Helper()
	ctx := context.Background()
	d := dbtest.NewDatabase(b)
	require.NoError(b, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	_, err := d.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0, max_pending_session_count = NULL`)
	require.NoError(b, err)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	prefix := "bench-" + hex.EncodeToString(rnd[:]) + "-"
	opt := asynq.RedisClientOpt{Addr: jobstest.TestRedisAddr, Password: halfstack.RedisPassword()}
	rdb := redis.NewClient(&redis.Options{Addr: jobstest.TestRedisAddr, Password: halfstack.RedisPassword()})
	client := asynq.NewClient(opt)
	b.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for q := range jobs.Queues(prefix) {
			var keys []string
			iter := rdb.Scan(cctx, 0, "asynq:{"+q+"}*", 1000).Iterator()
			for iter.Next(cctx) {
				keys = append(keys, iter.Val())
			}
			if len(keys) > 0 {
				_ = rdb.Del(cctx, keys...).Err()
			}
			_ = rdb.SRem(cctx, "asynq:queues", q).Err()
		}
		_ = client.Close()
		_ = rdb.Close()
	})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h, err := schedule.New(&worker.Deps{
		Pool: d.Pool, Redis: rdb, Enqueuer: jobs.NewEnqueuer(client, prefix),
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
	}, schedule.Options{})
	require.NoError(b, err)
	return d.Pool, h, now
}

// scaleReset removes the sessions of earlier rounds, frees the agents, and inserts n PENDING
// single-kernel sessions of the example user, created 1 ms apart from created.
func scaleReset(b *testing.B, pool *pgxpool.Pool, n, round int, created time.Time) {
	b.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `DELETE FROM sessions`)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `UPDATE agent_slots SET occupied = 0`)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `
		WITH s AS (
			INSERT INTO sessions (name, session_type, scaling_group_name, domain_name, group_id, user_uuid,
				access_key, images, requested_slots, created_at, status_history)
			SELECT format('scale-%s-%s', $1::int, g), 'INTERACTIVE', 'default', 'default', $2::uuid, $3::uuid, $4,
				'{cr.backend.ai/stable/python:3.9-ubuntu20.04}', '{"cpu": "1", "mem": "4294967296"}',
				$5::timestamptz + g * interval '1 millisecond',
				jsonb_build_object('PENDING', ($5::timestamptz + g * interval '1 millisecond')::text)
			FROM generate_series(1, $6::int) g
			RETURNING id, name, created_at
		)
		INSERT INTO kernels (session_id, session_name, scaling_group, domain_name, group_id, user_uuid,
			access_key, image, registry, requested_slots, created_at)
		SELECT s.id, s.name, 'default', 'default', $2::uuid, $3::uuid, $4,
			'cr.backend.ai/stable/python:3.9-ubuntu20.04', 'cr.backend.ai', '{"cpu": "1", "mem": "4294967296"}', s.created_at
		FROM s`, round, jobstest.ProjectID, jobstest.UserUUID, jobstest.UserAccessKey, created, n)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `ANALYZE sessions, kernels, agents, agent_slots`)
	require.NoError(b, err)
}

// sampleHeap samples the live heap every 5 ms until the returned function is called, which
// returns the highest sample above the level at the start, in bytes.
func sampleHeap() func() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() float64 {
		metrics.Read(s)
		return float64(s[0].Value.Uint64())
	}
	base := read()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	})
	return func() float64 {
		close(done)
		wg.Wait()
		return max(peak, read()) - base
	}
}
