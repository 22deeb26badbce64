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

// awaitSession re-reads a session through check after every event of sub, on subscription
// loss and every pollEvery, until check reports done or fails. It returns false when ctx ended
// first.
func awaitSession(ctx context.Context, sub *events.Subscription, check func(context.Context) (bool, error)) (bool, error) {
	var evc <-chan events.Event
	if sub != nil {
		evc = sub.C
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		done, err := check(context.WithoutCancel(ctx))
		if err != nil || done {
			return true, err
		}
		select {
		case <-ctx.Done():
			return false, nil
		case _, ok := <-evc:
			if !ok {
				evc = nil // lost (lagged or hub closed): re-read now, then rely on the poll
			}
		case <-tick.C:
		}
	}
}

// waitForStart waits until the session runs or ends, or max passes (0: until the request ends).
// It returns the status ("TIMEOUT" when max ran out) and, when running, the main kernel's
// service ports.
func waitForStart(ctx context.Context, s *functions.Server, sub *events.Subscription, sid uuid.UUID, maxWait time.Duration) (string, []map[string]any, error) {
	if maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxWait)
		defer cancel()
	}
	var status string
	var ports []map[string]any
	ended, err := awaitSession(ctx, sub, func(ctx context.Context) (bool, error) {
		st, err := db.Q.SessionStatusGet(ctx, s.Deps().Pool, sid)
		if err != nil {
			return false, functions.FromDB(err, "session")
		}
		if !settled(st.Status) {
			return false, nil
		}
		status = st.Status
		if st.Status == lifecycle.Running {
			ports = decodePorts(st.ServicePorts)
		}
		return true, nil
	})
	switch {
	case err != nil:
		return "", nil, err
	case !ended:
		return "TIMEOUT", nil, nil
	}
	return status, ports, nil
}
