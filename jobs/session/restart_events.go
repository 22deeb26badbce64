package session

import (
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// withRestartedKernels adds the kernel events of a finished restart to evs, the events of its
// end: Backend.AI's agent reports every kernel it restarted with kernel_started again (no
// kernel_preparing or kernel_creating), before the manager's session_started that ends the
// restart. kernels and results are in the same order; a kernel whose restart failed gets no
// event. Without a session_started in evs (the session ended in ERROR, or it was not
// restarting any more) evs are returned as they are.
func withRestartedKernels(evs []events.Event, kernels []*dbsqlc.KernelListBySessionRow, results []lifecycle.KernelRestart) []events.Event {
	at := -1
	for i := range evs {
		if evs[i].Name == events.SessionStarted {
			at = i
			break
		}
	}
	if at < 0 || len(kernels) != len(results) {
		return evs
	}
	s := evs[at]
	var started []events.Event
	for i, r := range results {
		if r.Err != "" || r.Gone {
			continue
		}
		k := kernels[i]
		started = append(started, events.Event{
			Name: events.KernelStarted, SessionID: s.SessionID, SessionName: s.SessionName,
			KernelID: k.ID.String(), AccessKey: s.AccessKey, Domain: s.Domain, ProjectID: s.ProjectID,
			ClusterRole: k.ClusterRole, ClusterIdx: int(k.ClusterIdx), Time: s.Time,
		})
	}
	if len(started) == 0 {
		return evs
	}
	out := make([]events.Event, 0, len(evs)+len(started))
	out = append(out, evs[:at]...)
	out = append(out, started...)
	return append(out, evs[at:]...)
}
