package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// DefaultLeaderHeartbeatEvery is the period of the leader heartbeat.
const DefaultLeaderHeartbeatEvery = 10 * time.Second

// minRetention is the shortest time a periodic task's ID stays taken after it completed.
const minRetention = time.Minute

// Periodic is a job the worker leader enqueues once per period. Periods are aligned to the
// Unix epoch, so every worker computes the same slots: with Every = 10 s the slots start at
// :00, :10, :20 and so on.
type Periodic struct {
	// Name identifies the job; it prefixes the per-slot TaskID, so it must be unique among
	// the periodic jobs. By convention it is the task type.
	Name string
	// Every is the period, a whole number of seconds, at least one second.
	Every time.Duration
	// IntervalKey, when set, is the shared-config key (under /sorna/<namespace>/) whose value
	// (a duration such as "30s" or "5m") overrides Every; the leader re-reads it on every
	// tick, so a change applies without a restart.
	IntervalKey string
	// Disableable lets a value of 0 at IntervalKey turn the job off (Every becomes 0 and
	// the leader skips it) until the key changes again.
	Disableable bool
	// Task builds the task for the slot that starts at slot. It is called once per slot by
	// the leader (and possibly once more by a second worker during a failover, in which
	// case the TaskID drops the duplicate).
	Task func(slot time.Time) (*asynq.Task, error)
}

// Validate reports whether p can be scheduled.
func (p Periodic) Validate() error {
	switch {
	case p.Name == "":
		return errors.New("periodic job: empty name")
	case p.Every < time.Second || p.Every%time.Second != 0:
		return fmt.Errorf("periodic job %s: period %v is not a whole number of seconds", p.Name, p.Every)
	case p.Task == nil:
		return fmt.Errorf("periodic job %s: no task function", p.Name)
	}
	return nil
}

// Slot returns the start of the period that contains now.
func (p Periodic) Slot(now time.Time) time.Time {
	sec := int64(p.Every / time.Second)
	u := now.Unix()
	start := u - ((u%sec)+sec)%sec
	return time.Unix(start, 0).UTC()
}

// TaskID returns the TaskID of the task for the slot that starts at slot:
// "<name>:<slot start in Unix seconds>", e.g. "leader:heartbeat:1700000010".
func (p Periodic) TaskID(slot time.Time) string {
	return fmt.Sprintf("%s:%d", p.Name, slot.Unix())
}

// Retention is how long a completed slot task keeps its TaskID: twice the period, and at
// least a minute, so a second enqueue of the same slot (a failover, a clock a little
// behind) is still rejected.
func (p Periodic) Retention() time.Duration { return max(2*p.Every, minRetention) }

// WithInterval returns p with its period taken from lookup(p.IntervalKey) when that gives a
// valid period (a whole number of seconds, at least one), or with Every 0 (off) when that
// gives 0 and p is Disableable; otherwise p unchanged.
func (p Periodic) WithInterval(lookup func(key string, def time.Duration) time.Duration) Periodic {
	if p.IntervalKey == "" || lookup == nil {
		return p
	}
	every := lookup(p.IntervalKey, p.Every)
	if every == 0 && p.Disableable {
		p.Every = 0
		return p
	}
	if every >= time.Second && every%time.Second == 0 {
		p.Every = every
	}
	return p
}

// LeaderHeartbeatIntervalKey is the shared-config key of the leader heartbeat period.
const LeaderHeartbeatIntervalKey = "config/hangar/periodic/leader-heartbeat/interval"

// ValidatePeriodic checks every job and that their names are unique.
func ValidatePeriodic(ps []Periodic) error {
	seen := make(map[string]bool, len(ps))
	var errs []error
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("periodic job %s: defined twice", p.Name))
		}
		seen[p.Name] = true
	}
	return errors.Join(errs...)
}

// PeriodicOpts configures the built-in periodic jobs.
type PeriodicOpts struct {
	// LeaderID names the worker that enqueues the jobs (it appears in heartbeats).
	LeaderID string
	// LeaderHeartbeatEvery is the heartbeat period; DefaultLeaderHeartbeatEvery when zero.
	LeaderHeartbeatEvery time.Duration
}

// BuiltinPeriodic returns Hangar's periodic jobs.
func BuiltinPeriodic(o PeriodicOpts) []Periodic {
	every := o.LeaderHeartbeatEvery
	if every == 0 {
		every = DefaultLeaderHeartbeatEvery
	}
	leader := strings.TrimSpace(o.LeaderID)
	return []Periodic{
		{
			Name:        TypeLeaderHeartbeat,
			Every:       every,
			IntervalKey: LeaderHeartbeatIntervalKey,
			Task: func(slot time.Time) (*asynq.Task, error) {
				return NewLeaderHeartbeatTask(LeaderHeartbeatPayload{LeaderID: leader, Slot: slot})
			},
		},
		{
			Name:        TypeScheduleTick,
			Every:       DefaultScheduleTickEvery,
			IntervalKey: ScheduleTickIntervalKey,
			Task: func(slot time.Time) (*asynq.Task, error) {
				return NewScheduleTickTask(ScheduleTickPayload{Slot: slot})
			},
		},
		sweep(TypeAgentLostCheck, DefaultAgentLostCheckEvery, AgentLostCheckIntervalKey),
		sweep(TypeSessionHangCheck, DefaultHangCheckEvery, HangCheckIntervalKey),
		sweep(TypeUsageRecalculate, DefaultUsageRecalculateEvery, UsageRecalculateIntervalKey),
		{
			Name:        TypeIdleCheck,
			Every:       DefaultIdleCheckEvery,
			IntervalKey: IdleCheckIntervalKey,
			Disableable: true,
			Task: func(slot time.Time) (*asynq.Task, error) {
				return NewIdleCheckTask(IdleCheckPayload{Slot: slot})
			},
		},
		{
			Name:        TypeImageRescan,
			Every:       DefaultImageRescanEvery,
			IntervalKey: ImageRescanIntervalKey,
			Disableable: true,
			Task: func(slot time.Time) (*asynq.Task, error) {
				return NewImageRescanTask(ImageRescanPayload{Slot: &slot})
			},
		},
	}
}

// sweep returns the periodic job of a sweep task type.
func sweep(typ string, every time.Duration, key string) Periodic {
	return Periodic{
		Name: typ, Every: every, IntervalKey: key,
		Task: func(slot time.Time) (*asynq.Task, error) { return NewSweepTask(typ, slot) },
	}
}
