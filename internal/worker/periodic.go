package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/jobs"
)

// tickEvery is the period of the real ticker: periodic jobs have whole-second periods.
const tickEvery = time.Second

// periodicEnqueuer enqueues the periodic jobs whose current slot it has not enqueued yet.
// It is driven by one goroutine (the leader loop) and is not safe for concurrent use.
type periodicEnqueuer struct {
	jobs     []jobs.Periodic
	enqueuer *jobs.Enqueuer
	logger   *slog.Logger
	metrics  *metrics
	// last is the last slot handled per job name (enqueued here or found already queued).
	last map[string]time.Time
	// interval reads a period override from shared config (nil: none).
	interval func(key string, def time.Duration) time.Duration
}

func newPeriodicEnqueuer(ps []jobs.Periodic, e *jobs.Enqueuer, logger *slog.Logger, m *metrics,
	interval func(string, time.Duration) time.Duration) *periodicEnqueuer {
	return &periodicEnqueuer{jobs: ps, enqueuer: e, logger: logger, metrics: m, last: make(map[string]time.Time, len(ps)), interval: interval}
}

// fire enqueues, for every job, the slot that contains now unless it was handled before. A
// slot whose TaskID is already taken (another leader enqueued it) counts as handled; a slot
// that failed to enqueue is tried again on the next tick.
func (p *periodicEnqueuer) fire(ctx context.Context, now time.Time) {
	for _, job := range p.jobs {
		job = job.WithInterval(p.interval)
		if job.Every <= 0 {
			continue // turned off in shared config
		}
		slot := job.Slot(now)
		if last, ok := p.last[job.Name]; ok && !slot.After(last) {
			continue
		}
		result := p.enqueue(ctx, job, slot)
		p.metrics.periodic.WithLabelValues(job.Name, result).Inc()
		if result != resultError {
			p.last[job.Name] = slot
		}
	}
}

func (p *periodicEnqueuer) enqueue(ctx context.Context, job jobs.Periodic, slot time.Time) string {
	id := job.TaskID(slot)
	task, err := job.Task(slot)
	if err != nil {
		p.logger.Error("build periodic task", "name", job.Name, "slot", slot, "err", err)
		return resultError
	}
	_, err = p.enqueuer.Enqueue(ctx, task, asynq.TaskID(id), asynq.Retention(job.Retention()))
	switch {
	case err == nil:
		p.logger.Debug("periodic task enqueued", "name", job.Name, "id", id)
		return resultEnqueued
	case jobs.IsDuplicate(err):
		p.logger.Debug("periodic task already enqueued", "name", job.Name, "id", id)
		return resultDuplicate
	default:
		if ctx.Err() == nil {
			p.logger.Warn("enqueue periodic task", "name", job.Name, "id", id, "err", err)
		}
		return resultError
	}
}

// alignedTicker sends the time on C at every whole multiple of its period (dropping ticks
// nobody takes) until stop is called.
type alignedTicker struct {
	C      <-chan time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newAlignedTicker(every time.Duration) *alignedTicker {
	c := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t := &alignedTicker{C: c, cancel: cancel}
	t.wg.Go(func() {
		timer := time.NewTimer(untilNext(time.Now(), every))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-timer.C:
				select {
				case c <- now:
				default:
				}
				timer.Reset(untilNext(time.Now(), every))
			}
		}
	})
	return t
}

// stop stops the ticker and waits for its goroutine.
func (t *alignedTicker) stop() {
	t.cancel()
	t.wg.Wait()
}

// untilNext returns the time from now to the next whole multiple of every since the epoch.
func untilNext(now time.Time, every time.Duration) time.Duration {
	d := every - time.Duration(now.UnixNano()%int64(every))
	if d <= 0 {
		d += every
	}
	return d
}
