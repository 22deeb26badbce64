// Package idle decides when a RUNNING session counts as idle, the way Backend.AI's idle
// checkers do. It is pure: given a session's facts, its keypair policy, the checker
// configuration and the current time, [Check] returns a remaining-time report per checker
// and, when a checker found the session expired, the reason to terminate it with. The
// periodic reap job (jobs/idle) and the session info (functions/session) both use it, so
// what a user sees in idleChecks is what the reaper acts on.
//
// # Checkers
//
//   - session_lifetime (always on; reason idle-session-lifetime): the keypair policy's
//     max_session_lifetime seconds after the session's creation; 0 turns it off.
//   - network_timeout (reason idle-timeout), enabled by naming it (or its older name
//     "timeout") in config/idle/enabled: the session expires when it has not been accessed
//     for the timeout. The timeout is the keypair policy's idle_timeout when that is 0 or
//     more (0: never), else config/idle/checkers/network_timeout/threshold (default 10m; the
//     key under checkers/timeout is read too). The last access is the later of the session's
//     last recorded API access and the time it became RUNNING. Batch sessions never expire
//     by it.
//   - utilization (reason idle-utilization), enabled by naming it in config/idle/enabled:
//     after an initial grace period (initial-grace-period, default 5m) and one full window
//     (the policy's idle_timeout when 0 or more, else time-window, default 10m; 0: never),
//     the averages of the metrics the agents report over the last window are compared with
//     resource-thresholds ({metric: {average: percent}}). A metric is sufficient when its
//     average reaches its threshold. With thresholds-check-operator "and" (the default) the
//     session expires when no metric is sufficient; with "or" when any metric is not.
//     Metrics of slots the session holds none of are left out (cpu → cpu_util, mem → mem,
//     cuda.* → cuda_util and cuda_mem, atom.* → atom_mem), and so are metrics without
//     samples; with no metric left the session is not idle.
//
// A user grace period (config/idle/checkers/user_grace_period/user_initial_grace_period)
// pushes every checker's start to the user's creation time plus the period.
//
// Inference sessions are never checked; callers leave them out.
//
// # Reports
//
// Each checker reports {remaining, remaining_time_type, extra}: remaining is the seconds
// left before the session expires (-1 once expired, null when the checker does not apply
// to the session), remaining_time_type is "grace_period" while a grace period runs and
// "expire_after" otherwise, extra is the utilization checker's
// {thresholds_check_operator, resources: {metric: [average, threshold]}} and null for the
// others. Once the utilization checker's first window is complete, its remaining is 0
// while the session is busy enough.
package idle
