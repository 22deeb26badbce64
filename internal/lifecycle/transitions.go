package lifecycle

// sessionMoves is the session transition table: Backend.AI's SESSION_STATUS_TRANSITION_MAP
// (models/session.py), which only some of its writers honour, plus the moves Hangar's
// guarded writers make and upstream's bypass the map for:
//   - SCHEDULED, PULLING and ERROR → TERMINATING: a forced destroy (or the hang check) hands
//     the session to the termination job, which ends it TERMINATED;
//   - PREPARING → PREPARING and TERMINATING → TERMINATING: a redelivered start or termination
//     re-enters the status it left the session in.
var sessionMoves = map[string][]string{ //nolint:gochecknoglobals // read-only
	Pending:         {Scheduled, Terminating, Terminated, Error, Cancelled},
	Scheduled:       {Pulling, Preparing, Terminating, Terminated, Error, Cancelled},
	Pulling:         {Preparing, Running, RunningDegraded, Terminating, Terminated, Error, Cancelled},
	Preparing:       {Preparing, Pulling, Running, RunningDegraded, Terminating, Terminated, Error, Cancelled},
	Running:         {Restarting, RunningDegraded, Terminating, Terminated, Error},
	Restarting:      {Running, RunningDegraded, Terminating, Terminated, Error},
	RunningDegraded: {Running, Terminating, Terminated, Error},
	Terminating:     {Terminating, Terminated, Error},
	Error:           {Terminating, Terminated},
	Terminated:      nil,
	Cancelled:       nil,
}

// kernelMoves is the kernel transition table: Backend.AI's KERNEL_STATUS_TRANSITION_MAP
// (models/kernel.py) plus what its mark_kernel_terminated and Hangar's writers do besides:
//   - every live status → TERMINATED (the kernel's process ended, or its agent is lost) and
//     → CANCELLED (its session is cancelled before it ran);
//   - TERMINATING → TERMINATING (a redelivered termination) and ERROR → TERMINATING (a forced
//     destroy of a failed session).
var kernelMoves = func() map[string][]string { //nolint:gochecknoglobals // read-only
	transitional := []string{Preparing, Building, Pulling, Restarting, Resizing, Suspended}
	onward := []string{Preparing, Building, Pulling, Running, Restarting, Resizing, Suspended,
		Terminating, Terminated, Error, Cancelled}
	except := func(list []string, drop ...string) []string {
		var out []string
	next:
		for _, s := range list {
			for _, d := range drop {
				if s == d {
					continue next
				}
			}
			out = append(out, s)
		}
		return out
	}
	m := map[string][]string{
		Pending:     append([]string{Scheduled}, onward...),
		Scheduled:   onward,
		Running:     {Restarting, Resizing, Terminating, Terminated, Error, Cancelled},
		Terminating: {Terminating, Terminated, Error, Cancelled},
		Error:       {Terminating},
		Terminated:  nil,
		Cancelled:   nil,
	}
	for _, s := range transitional {
		m[s] = except(onward, s)
	}
	return m
}()

// SessionAllowed reports whether a session may move from one status to another.
func SessionAllowed(from, to string) bool { return allowed(sessionMoves, from, to) }

// KernelAllowed reports whether a kernel may move from one status to another.
func KernelAllowed(from, to string) bool { return allowed(kernelMoves, from, to) }

func allowed(moves map[string][]string, from, to string) bool {
	for _, s := range moves[from] {
		if s == to {
			return true
		}
	}
	return false
}
