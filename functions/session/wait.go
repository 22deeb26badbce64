package session

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// pollEvery is the safety-net re-read of a waited-for session, in case an event was missed.
const pollEvery = time.Second

// settled reports whether a waiting create may answer with status.
func settled(status string) bool { return lifecycle.Settled(status) }

// waitForStart waits until the session runs or ends, or max passes (0: until the request ends),
// re-reading the session after every event, on subscription loss and every pollEvery. It
// returns the status ("TIMEOUT" when max ran out) and, when running, the main kernel's
// service ports.
func waitForStart(ctx context.Context, s *functions.Server, sub *events.Subscription, sid uuid.UUID, maxWait time.Duration) (string, []map[string]any, error) {
	if maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxWait)
		defer cancel()
	}
	var evc <-chan events.Event
	if sub != nil {
		evc = sub.C
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		st, err := db.Q.SessionStatusGet(context.WithoutCancel(ctx), s.Deps().Pool, sid)
		if err != nil {
			return "", nil, functions.FromDB(err, "session")
		}
		if settled(st.Status) {
			if st.Status == lifecycle.Running {
				return st.Status, decodePorts(st.ServicePorts), nil
			}
			return st.Status, nil, nil
		}
		select {
		case <-ctx.Done():
			return "TIMEOUT", nil, nil
		case _, ok := <-evc:
			if !ok {
				evc = nil // lost (lagged or hub closed): re-read now, then rely on the poll
			}
		case <-tick.C:
		}
	}
}
