package worker

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/jobs"
)

// stateTimeout bounds the queries of one scrape.
const stateTimeout = 5 * time.Second

// Task states of hangar_queue_tasks.
var queueStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"} //nolint:gochecknoglobals

// stateCollector reports the state of the deployment at scrape time: the depth of this
// deployment's queues (asynq's Inspector) and the sessions and agents by status (one GROUP
// BY query each). Every worker reports the same numbers, so aggregate them with max, not
// sum.
type stateCollector struct {
	insp   *asynq.Inspector
	queues []string
	pool   *pgxpool.Pool
	logger *slog.Logger

	tasks    *prometheus.Desc
	latency  *prometheus.Desc
	paused   *prometheus.Desc
	sessions *prometheus.Desc
	agents   *prometheus.Desc
	up       *prometheus.Desc
}

func newStateCollector(redisOpt asynq.RedisConnOpt, prefix string, pool *pgxpool.Pool, logger *slog.Logger) *stateCollector {
	queues := make([]string, 0, 3)
	for q := range jobs.Queues(prefix) {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	return &stateCollector{
		insp:   asynq.NewInspector(redisOpt),
		queues: queues,
		pool:   pool,
		logger: logger,
		tasks: prometheus.NewDesc("hangar_queue_tasks",
			"Tasks in a job queue by state (completed: kept for their retention), read at scrape time.",
			[]string{"queue", "state"}, nil),
		latency: prometheus.NewDesc("hangar_queue_latency_seconds",
			"Age of the oldest pending task of a job queue, read at scrape time.", []string{"queue"}, nil),
		paused: prometheus.NewDesc("hangar_queue_paused",
			"1 while a job queue is paused, else 0.", []string{"queue"}, nil),
		sessions: prometheus.NewDesc("hangar_sessions",
			"Sessions by status, counted in PostgreSQL at scrape time.", []string{"status"}, nil),
		agents: prometheus.NewDesc("hangar_agents",
			"Agents by status, counted in PostgreSQL at scrape time.", []string{"status"}, nil),
		up: prometheus.NewDesc("hangar_state_scrape_up",
			"1 when the last scrape could read the source (redis, postgres), else 0.", []string{"source"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.latency, c.paused, c.sessions, c.agents, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.collectQueues(ch)
	if c.pool != nil {
		c.collectDB(ch)
	}
}

func (c *stateCollector) collectQueues(ch chan<- prometheus.Metric) {
	up := 1.0
	existing, err := c.insp.Queues()
	if err != nil {
		c.logger.Warn("metrics: list queues", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, "redis")
		return
	}
	for _, q := range c.queues {
		info := &asynq.QueueInfo{Queue: q} // nothing was ever enqueued there: all zero
		var err error
		if slices.Contains(existing, q) {
			info, err = c.insp.GetQueueInfo(q)
		}
		if err != nil {
			c.logger.Warn("metrics: read queue", "queue", q, "err", err)
			up = 0
			continue
		}
		counts := []int{info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed, info.Aggregating}
		for i, state := range queueStates {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(counts[i]), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused, q)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, "redis")
}

func (c *stateCollector) collectDB(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	up := 1.0
	if rows, err := db.Q.MetricsSessionCountByStatus(ctx, c.pool); err != nil {
		c.logger.Warn("metrics: count sessions", "err", err)
		up = 0
	} else {
		counts := map[dbsqlc.SessionStatus]int64{}
		for _, r := range rows {
			counts[r.Status] = r.Count
		}
		for _, s := range dbsqlc.AllSessionStatusValues() {
			ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if rows, err := db.Q.MetricsAgentCountByStatus(ctx, c.pool); err != nil {
		c.logger.Warn("metrics: count agents", "err", err)
		up = 0
	} else {
		counts := map[dbsqlc.AgentStatus]int64{}
		for _, r := range rows {
			counts[r.Status] = r.Count
		}
		for _, s := range dbsqlc.AllAgentStatusValues() {
			ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, "postgres")
}

// close releases the collector's Redis connection.
func (c *stateCollector) close() { _ = c.insp.Close() }

// registerState registers the state collector on reg and returns the function that removes
// it at shutdown. When another worker of the process registered one on the same registry
// (tests), that one keeps reporting and this one is released at once.
func registerState(reg *prometheus.Registry, cfg *Config, logger *slog.Logger) (func(), error) {
	sc := newStateCollector(cfg.RedisOpt, cfg.QueuePrefix, cfg.Pool, logger)
	got, err := metricsserver.Register(reg, sc)
	if err != nil {
		sc.close()
		return nil, err
	}
	if got != sc {
		sc.close()
		return func() {}, nil
	}
	return func() {
		reg.Unregister(sc)
		sc.close()
	}, nil
}
