// Package lifecycle is the one home of the session and kernel state machine: the statuses,
// the transitions allowed between them, the status_history entries every change records, the
// release of a kernel's agent slots, and the lifecycle events a change publishes. The API and
// every job change a session's or a kernel's status only through it.
//
// Every change is guarded: it names the statuses the row may be in and does nothing when the
// row is in another one, so a redelivered task or a racing request changes nothing twice.
// A change whose guard names a status the transition table does not allow to reach the target
// is a programming error and is refused.
package lifecycle

// Statuses of sessions and kernels (Backend.AI's SessionStatus and KernelStatus names).
// BUILDING, RESIZING and SUSPENDED are kernel statuses only; RUNNING_DEGRADED a session
// status only.
const (
	Pending         = "PENDING"
	Scheduled       = "SCHEDULED"
	Pulling         = "PULLING"
	Preparing       = "PREPARING"
	Building        = "BUILDING"
	Running         = "RUNNING"
	Restarting      = "RESTARTING"
	Resizing        = "RESIZING"
	Suspended       = "SUSPENDED"
	RunningDegraded = "RUNNING_DEGRADED"
	Terminating     = "TERMINATING"
	Terminated      = "TERMINATED"
	Error           = "ERROR"
	Cancelled       = "CANCELLED"
)

// Results of a kernel or session (sessions.result, kernels.result).
const (
	ResultUndefined = "UNDEFINED"
	ResultSuccess   = "SUCCESS"
	ResultFailure   = "FAILURE"
)

// Reasons written as status_info and sent as event reasons.
const (
	// ReasonUserRequested ends a session its owner destroyed.
	ReasonUserRequested = "user-requested"
	// ReasonForceTerminated ends a session destroyed with forced.
	ReasonForceTerminated = "force-terminated"
	// ReasonSelfTerminated ends a kernel whose process ended by itself.
	ReasonSelfTerminated = "self-terminated"
	// ReasonFailedToStart ends a session whose agents failed to start it.
	ReasonFailedToStart = "failed-to-start"
	// ReasonRestarting is the status_info of a session being restarted.
	ReasonRestarting = "restarting"
	// ReasonKernelRestartFailed is the status_info of a session one of whose kernels failed
	// to restart.
	ReasonKernelRestartFailed = "kernel-restart-failed"
)

// SessionStatuses are all session statuses, in Backend.AI's enum order.
var SessionStatuses = []string{ //nolint:gochecknoglobals // read-only
	Pending, Scheduled, Pulling, Preparing, Running, Restarting, RunningDegraded, Terminating,
	Terminated, Error, Cancelled,
}

// KernelStatuses are all kernel statuses, in Backend.AI's enum order.
var KernelStatuses = []string{ //nolint:gochecknoglobals // read-only
	Pending, Scheduled, Preparing, Building, Pulling, Running, Restarting, Resizing, Suspended,
	Terminating, Terminated, Error, Cancelled,
}

// Ended are the statuses a session or kernel never leaves by itself.
var Ended = []string{Terminated, Cancelled, Error} //nolint:gochecknoglobals // read-only

// LiveKernel are the kernel statuses that have not ended.
var LiveKernel = []string{ //nolint:gochecknoglobals // read-only
	Pending, Scheduled, Preparing, Building, Pulling, Running, Restarting, Resizing, Suspended, Terminating,
}

// StartedSession are the statuses of a session whose kernels run or ran on agents and that
// has not ended: a termination destroys its kernels there first.
var StartedSession = []string{ //nolint:gochecknoglobals // read-only
	Preparing, Pulling, Running, Restarting, RunningDegraded, Terminating,
}

// IsEnded reports whether status is one a session or kernel never leaves by itself.
func IsEnded(status string) bool {
	for _, s := range Ended {
		if s == status {
			return true
		}
	}
	return false
}

// IsRunning reports whether a session in status runs its kernels (code may be executed in
// it): RUNNING, RESTARTING or RUNNING_DEGRADED.
func IsRunning(status string) bool {
	return status == Running || status == Restarting || status == RunningDegraded
}

// Settled reports whether a session that was being created has got as far as it will by
// itself: it runs, or it ended or is ending.
func Settled(status string) bool {
	return status == Running || status == Terminating || IsEnded(status)
}
