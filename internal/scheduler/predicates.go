package scheduler

import (
	"fmt"
	"strings"
)

// Predicate names, as recorded in status_data.scheduler.failed_predicates and
// passed_predicates. They run in this order.
const (
	// PredicateReservedTime fails while a session's start time lies in the future.
	PredicateReservedTime = "reserved_time"
	// PredicateDependencies fails until every dependency is TERMINATED with result SUCCESS.
	PredicateDependencies = "dependencies"
	// PredicateConcurrency fails when the access key runs max_concurrent_sessions sessions
	// (max_concurrent_sftp_sessions for private sessions) already.
	PredicateConcurrency = "concurrency"
	// PredicatePendingSessionResourceLimit fails when the access key's pending sessions
	// request max_pending_session_resource_slots or more in every slot it names.
	PredicatePendingSessionResourceLimit = "pending_session_resource_limit"
	// PredicatePendingSessionCountLimit fails when the access key has
	// max_pending_session_count pending sessions or more.
	PredicatePendingSessionCountLimit = "pending_session_count_limit"
	// PredicateKeypairResourceLimit fails when the access key's occupancy plus the request
	// exceeds its policy's total_resource_slots.
	PredicateKeypairResourceLimit = "keypair_resource_limit"
	// PredicateUserResourceLimit fails when the user's occupancy plus the request exceeds the
	// policy of the user's main access key, or the user has none.
	PredicateUserResourceLimit = "user_resource_limit"
	// PredicateUserGroupResourceLimit fails when the project's occupancy plus the request
	// exceeds the project's total_resource_slots.
	PredicateUserGroupResourceLimit = "user_group_resource_limit"
	// PredicateDomainResourceLimit fails when the domain's occupancy plus the request exceeds
	// the domain's total_resource_slots.
	PredicateDomainResourceLimit = "domain_resource_limit"
	// PredicateAllowedSessionTypes fails when the scaling group does not accept the session's
	// type.
	PredicateAllowedSessionTypes = "allowed_session_types"
	// PredicateArchitecture fails when the kernels of a single-node session differ in
	// architecture, or no agent of the scaling group has a kernel's architecture.
	PredicateArchitecture = "architecture"
)

// predicate is one check a session must pass before agent selection.
type predicate struct {
	name string
	// skipPrivate skips the check for private (SYSTEM-role) sessions.
	skipPrivate bool
	// check returns whether the session passes and, when it does not, why.
	check func(p *pass, ss *sess) (bool, string)
}

// predicates are the checks in evaluation order. Every check runs, so a failed session
// records all its failures at once.
var predicates = [...]predicate{ //nolint:gochecknoglobals // read-only table
	{name: PredicateReservedTime, check: checkReservedTime},
	{name: PredicateDependencies, check: checkDependencies},
	{name: PredicateConcurrency, check: checkConcurrency},
	{name: PredicatePendingSessionResourceLimit, skipPrivate: true, check: checkPendingResources},
	{name: PredicatePendingSessionCountLimit, skipPrivate: true, check: checkPendingCount},
	{name: PredicateKeypairResourceLimit, skipPrivate: true, check: checkKeypairLimit},
	{name: PredicateUserResourceLimit, skipPrivate: true, check: checkUserLimit},
	{name: PredicateUserGroupResourceLimit, skipPrivate: true, check: checkProjectLimit},
	{name: PredicateDomainResourceLimit, skipPrivate: true, check: checkDomainLimit},
	{name: PredicateAllowedSessionTypes, check: checkSessionType},
	{name: PredicateArchitecture, check: checkArchitecture},
}

// runPredicates runs every predicate on ss. When all pass it returns true without
// allocating; otherwise it returns the failures and the names that passed.
func (p *pass) runPredicates(ss *sess) (ok bool, failed []PredicateResult, passed []string) {
	var msgs [len(predicates)]string
	var fails, skips uint32
	for i := range predicates {
		pr := &predicates[i]
		if pr.skipPrivate && ss.s.Private {
			skips |= 1 << i
			continue
		}
		if good, msg := pr.check(p, ss); !good {
			fails |= 1 << i
			msgs[i] = msg
		}
	}
	if fails == 0 {
		return true, nil, nil
	}
	for i := range predicates {
		switch {
		case fails&(1<<i) != 0:
			failed = append(failed, PredicateResult{Name: predicates[i].name, Msg: msgs[i]})
		case skips&(1<<i) == 0:
			passed = append(passed, predicates[i].name)
		}
	}
	return false, failed, passed
}

func checkReservedTime(p *pass, ss *sess) (bool, string) {
	if ss.s.StartsAt != nil && p.s.Now.Before(*ss.s.StartsAt) {
		return false, "Before start time"
	}
	return true, ""
}

func checkDependencies(_ *pass, ss *sess) (bool, string) {
	var waiting []string
	for _, d := range ss.s.Dependencies {
		if strings.EqualFold(d.Status, "TERMINATED") && strings.EqualFold(d.Result, "SUCCESS") {
			continue
		}
		label := d.ID
		if d.Name != "" {
			label = fmt.Sprintf("%s (%s)", d.Name, d.ID)
		}
		waiting = append(waiting, fmt.Sprintf("%s: %s/%s", label, d.Status, d.Result))
	}
	if len(waiting) > 0 {
		return false, "Waiting for dependency sessions to finish as success: " + strings.Join(waiting, ", ")
	}
	return true, ""
}

func checkConcurrency(p *pass, ss *sess) (bool, string) {
	k := &p.keys[ss.key]
	limit, used := k.policy.MaxConcurrentSessions, k.concurrency
	if ss.s.Private {
		limit, used = k.policy.MaxConcurrentSFTPSessions, k.sftpConcurrency
	}
	if limit > 0 && used >= limit {
		if ss.s.Private {
			return false, fmt.Sprintf("You cannot run more than %d concurrent SFTP sessions", limit)
		}
		return false, fmt.Sprintf("You cannot run more than %d concurrent sessions", limit)
	}
	return true, ""
}

func checkPendingResources(p *pass, ss *sess) (bool, string) {
	k := &p.keys[ss.key]
	limit := k.policy.MaxPendingSessionResourceSlots
	if limit == nil {
		return true, ""
	}
	// The pending sums include this session. Backend.AI fails once every slot has reached
	// the cap, so a key exactly at its cap can never be scheduled; Hangar fails only when a
	// slot is over the cap (the create API refuses sessions that would go over it).
	for i, l := range limit {
		if k.pendingSlots[i] > l {
			return false, "Your pending session quota is exceeded (pending: " + p.formatVector(k.pendingSlots) +
				"; limit: " + p.formatVector(limit) + ")"
		}
	}
	return true, ""
}

func checkPendingCount(p *pass, ss *sess) (bool, string) {
	k := &p.keys[ss.key]
	// The count includes this session. Backend.AI fails at count >= limit, so a key with
	// exactly its limit of pending sessions could never have any of them scheduled; Hangar
	// fails only above the limit (the create API refuses sessions beyond it).
	if k.policy.MaxPendingSessionCount == nil || k.pending <= *k.policy.MaxPendingSessionCount {
		return true, ""
	}
	return false, fmt.Sprintf("You cannot create more than %d pending session(s)", *k.policy.MaxPendingSessionCount)
}

func checkKeypairLimit(p *pass, ss *sess) (bool, string) {
	k := &p.keys[ss.key]
	return p.checkLimit("Your keypair resource quota is exceeded", k.occupied, k.policy.TotalSlots, ss.req)
}

func checkUserLimit(p *pass, ss *sess) (bool, string) {
	u := &p.users[ss.user]
	if !u.hasMain {
		return false, "The user has no main access key to take a resource policy from"
	}
	return p.checkLimit("Your user resource quota is exceeded", u.occupied, u.limit, ss.req)
}

func checkProjectLimit(p *pass, ss *sess) (bool, string) {
	g := &p.projects[ss.project]
	return p.checkLimit("Your project resource quota is exceeded", g.occupied, g.limit, ss.req)
}

func checkDomainLimit(p *pass, ss *sess) (bool, string) {
	d := &p.domains[ss.domain]
	return p.checkLimit("Your domain resource quota is exceeded", d.occupied, d.limit, ss.req)
}

// checkLimit passes when occupied + req ≤ limit in every slot; a nil limit or an Unlimited
// slot never fails.
func (p *pass) checkLimit(what string, occupied, limit, req []int64) (bool, string) {
	if limit == nil {
		return true, ""
	}
	for i, l := range limit {
		if l != Unlimited && req[i] > l-occupied[i] {
			return false, p.limitMessage(what, occupied, limit, req)
		}
	}
	return true, ""
}

// limitMessage lists the slots a request would take over their limit.
func (p *pass) limitMessage(what string, occupied, limit, req []int64) string {
	var b strings.Builder
	b.WriteString(what)
	b.WriteString(" (")
	first := true
	for i, l := range limit {
		if l == Unlimited || req[i] <= l-occupied[i] {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		typ := p.types[i]
		fmt.Fprintf(&b, "%s: %s occupied + %s requested > %s",
			p.s.SlotNames[i], humanAmount(occupied[i], typ), humanAmount(req[i], typ), humanAmount(l, typ))
	}
	b.WriteString(")")
	return b.String()
}

func checkSessionType(p *pass, ss *sess) (bool, string) {
	for _, t := range p.allowedTypes {
		if t == ss.s.Type {
			return true, ""
		}
	}
	return false, fmt.Sprintf("The scaling group %s does not allow %s sessions (allowed: %s)",
		p.s.ScalingGroup.Name, ss.s.Type, strings.Join(p.allowedTypes, ", "))
}

func checkArchitecture(p *pass, ss *sess) (bool, string) {
	if ss.mixedArch {
		archs := make([]string, 0, len(ss.s.Kernels))
		for _, k := range ss.s.Kernels {
			archs = append(archs, k.Architecture)
		}
		return false, "The kernels of a single-node session must share one architecture (" +
			strings.Join(archs, ", ") + ")"
	}
	for _, k := range ss.s.Kernels {
		if k.Architecture != "" && !p.archs[k.Architecture] {
			return false, fmt.Sprintf("No agent of the scaling group %s has the architecture %s",
				p.s.ScalingGroup.Name, k.Architecture)
		}
	}
	return true, ""
}

// formatVector writes a vector as "cpu=1 mem=4g" for messages.
func (p *pass) formatVector(v []int64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.s.SlotNames[i])
		b.WriteByte('=')
		b.WriteString(humanAmount(x, p.types[i]))
	}
	return b.String()
}
