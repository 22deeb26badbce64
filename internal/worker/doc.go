// Package worker runs Hangar's job workers: an asynq server that processes the tasks of
// package jobs with the handlers that the jobs/* packages register, and, on the one worker
// elected leader through etcd, the enqueuer of the periodic jobs.
//
// # Processing
//
// [Run] starts an asynq server on the queues of [jobs.Queues] (with the configured prefix)
// and a ServeMux on which Config.Handlers registers each handler under its exact task type.
// A middleware logs every failed task and counts processed and failed tasks per type
// (hangar_jobs_processed_total, hangar_jobs_failed_total). Handlers receive a [Deps] with
// the PostgreSQL pool, an [jobs.Enqueuer] for follow-up tasks, the metrics registry, the
// logger and the clock. At every scrape the registry also reads the depth of the
// deployment's queues (hangar_queue_tasks{queue,state}) and counts sessions and agents by
// status in PostgreSQL (hangar_sessions, hangar_agents). Task log lines carry the task's type,
// id and session id, which the task's context holds for handlers too (internal/logctx).
//
// # Leadership and periodic jobs
//
// Every worker campaigns in the etcd election "worker" (config.Campaign). While it leads
// (hangar_leader is 1), each tick of an aligned one-second ticker (or of Config.Tick in
// tests) enqueues every periodic job whose slot has not been enqueued yet. Each enqueue
// carries the TaskID "<name>:<slot>" and a retention of at least twice the period, so when
// two workers briefly both believe they lead, a slot is still enqueued once. The outcome of
// every attempt is counted in hangar_periodic_enqueues_total{name,result}.
//
// # Shutdown
//
// When the context given to Run ends, the worker stops enqueuing, resigns leadership (so
// another worker takes over at once), then shuts the asynq server down, waiting up to
// Config.ShutdownTimeout for tasks in flight; unfinished tasks go back to their queue.
package worker
