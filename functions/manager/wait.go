package manager

import (
	"context"
	"time"
)

// applyTimeout bounds how long a write handler waits for its change to reach the shared
// configuration view of this process.
const applyTimeout = 2 * time.Second

// applyPoll is how often the view is checked while waiting.
const applyPoll = 5 * time.Millisecond

// waitApplied waits until applied reports true, polling the shared configuration view, and
// reports whether it did before applyTimeout (or ctx) ran out. The view follows etcd through a
// watch, so a write becomes visible to this process shortly after it succeeded.
func waitApplied(ctx context.Context, applied func() bool) bool {
	if applied() {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	tick := time.NewTicker(applyPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return applied()
		case <-tick.C:
			if applied() {
				return true
			}
		}
	}
}
