package lifecycle

import (
	"time"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
)

// Ref is what lifecycle events name of a session.
type Ref struct {
	ID, Name, AccessKey, Domain, ProjectID string
	// MainKernel is the session's main kernel id, sent as the kernel id of session events.
	MainKernel string
}

// RefOf returns the event fields of a transitioned session row.
func RefOf(r *dbsqlc.SessionTransitionRow) Ref {
	return Ref{ID: r.ID.String(), Name: r.Name, AccessKey: r.AccessKey, Domain: r.DomainName, ProjectID: r.GroupID.String()}
}

// RefOfSession returns the event fields of a session row loaded for the lifecycle.
func RefOfSession(r *dbsqlc.SessionGetForLifecycleRow) Ref {
	return Ref{ID: r.ID.String(), Name: r.Name, AccessKey: r.AccessKey, Domain: r.DomainName, ProjectID: r.GroupID.String()}
}

// SessionEvent returns the session event name with the session's status after it.
func (r Ref) SessionEvent(name, reason, status string, exitCode *int, at time.Time) events.Event {
	return events.Event{
		Name: name, SessionID: r.ID, SessionName: r.Name, KernelID: r.MainKernel, AccessKey: r.AccessKey,
		Domain: r.Domain, ProjectID: r.ProjectID, Reason: reason, ExitCode: exitCode, Status: status, Time: at,
	}
}

// KernelEvent returns the kernel event name for kernel k of the session.
func (r Ref) KernelEvent(name string, k *dbsqlc.KernelTransitionRow, reason string, exitCode *int, at time.Time) events.Event {
	return events.Event{
		Name: name, SessionID: r.ID, SessionName: r.Name, KernelID: k.ID.String(), AccessKey: r.AccessKey,
		Domain: r.Domain, ProjectID: r.ProjectID, ClusterRole: k.ClusterRole, ClusterIdx: int(k.ClusterIdx),
		Reason: reason, ExitCode: exitCode, Time: at,
	}
}

// MainKernelOf returns the id of the main kernel among rows, or of the first one.
func MainKernelOf(rows []*dbsqlc.KernelTransitionRow) string {
	for _, r := range rows {
		if r.ClusterRole == "main" {
			return r.ID.String()
		}
	}
	if len(rows) > 0 {
		return rows[0].ID.String()
	}
	return ""
}
