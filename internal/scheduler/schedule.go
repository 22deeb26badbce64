package scheduler

import (
	"cmp"
	"slices"
	"strings"
)

// sess is a pending session with its request and the dense indices of its owners.
type sess struct {
	s   *Session
	req []int64 // the session's total request
	// key, user, project and domain index pass.keys, .users, .projects and .domains.
	key, user, project, domain int32
	// arch is the architecture a single-node session needs ("" for any).
	arch string
	// mixedArch is set for a single-node session whose kernels differ in architecture.
	mixedArch bool
}

// keyState is one access key's usage, updated as the pass places sessions.
type keyState struct {
	policy          *KeypairPolicy
	occupied        []int64
	groupOccupied   []int64
	pendingSlots    []int64
	concurrency     int
	sftpConcurrency int
	pending         int
	// share is the key's DRF dominant share; queue and head are its pending sessions
	// (oldest first) and the next one to consider.
	share float64
	queue []int32
	head  int
}

// userState is one user's occupancy and the limit of the user's main access key.
type userState struct {
	occupied []int64
	limit    []int64
	hasMain  bool
}

// limitState is the occupancy and limit of a project or a domain.
type limitState struct {
	occupied []int64
	limit    []int64
}

// pass is the working state of one Schedule call. It copies what it changes, so the
// snapshot stays untouched.
type pass struct {
	s            *Snapshot
	n            int      // number of slots
	types        []string // slot types, indexed like SlotNames
	algo         Algorithm
	strategy     Strategy
	allowedTypes []string
	archs        map[string]bool // architectures of the group's agents
	// rank lists the slot indices rankers compare, highest priority first.
	rank []int
	// useExtras puts agents offering fewer slots the request does not need first.
	useExtras bool

	free       []int64 // per agent and slot: capacity - occupied, flat (agent*n + slot)
	containers []int   // per agent: containers, including those placed this pass
	idRank     []int32 // per agent: position in ID order
	index      *agentIndex
	rr         []int32 // schedulable agents in ID order, for round-robin
	rrNext     int

	sessions []sess
	keys     []keyState
	users    []userState
	projects []limitState
	domains  []limitState
	drfCap   []int64 // total capacity of the schedulable agents

	plan    *Plan
	kernels []KernelPlacement // backing store of the placements' kernel lists
	held    []int32           // agents of the kernels placed so far for a multi-node session
	byID    map[string]int32  // agent IDs, built for the first designated agent
	// reasons keeps the no-fit counts per request shape; nil counts every agent each time.
	reasons *reasons
}

// Schedule runs one scheduling pass over the snapshot and returns the plan. It considers
// every pending session once, in the queue order of the scaling group's algorithm: sessions
// pending too long are cancelled first; every other one runs the predicates, then agent
// selection. A session that fails either is recorded in Plan.Skipped (or Plan.Cancelled)
// and the pass goes on with the next one, while every placement updates the in-memory agent
// occupancy and usage that later sessions see. The same snapshot always gives the same
// plan. The only error is a malformed snapshot (see Validate).
func Schedule(s *Snapshot) (*Plan, error) {
	return schedule(s, true)
}

// schedule is Schedule, keeping the counts of the no-fit reasons per request shape when
// memo is set (reasons.go) and counting every agent for every skip otherwise.
func schedule(s *Snapshot, memo bool) (*Plan, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := newPass(s)
	if memo {
		p.reasons = &reasons{}
	}
	p.cancelTimedOut()
	switch p.algo {
	case DRF:
		p.runDRF()
	case LIFO:
		p.runList(p.queue(true))
	default:
		p.runList(p.queue(false))
	}
	p.plan.NextRoundRobinIndex = p.rrNext
	return p.plan, nil
}

func newPass(s *Snapshot) *pass {
	n := len(s.SlotNames)
	p := &pass{
		s:            s,
		n:            n,
		algo:         cmp.Or(s.ScalingGroup.Scheduler, FIFO),
		strategy:     cmp.Or(s.ScalingGroup.AgentSelectionStrategy, Dispersed),
		allowedTypes: s.ScalingGroup.AllowedSessionTypes,
		plan:         &Plan{Placements: make([]Placement, 0, len(s.Pending))},
	}
	if p.allowedTypes == nil {
		p.allowedTypes = DefaultAllowedSessionTypes()
	}
	p.useExtras = p.algo != DRF
	p.types = make([]string, n)
	for i, name := range s.SlotNames {
		p.types[i] = slotType(s.SlotTypes, name)
	}
	priority := s.SlotPriority
	if priority == nil {
		priority = DefaultSlotPriority()
	}
	p.rank = rankSlots(s.SlotNames, priority)
	p.initAgents()
	p.initSessions()
	return p
}

// rankSlots expands the slot priority over the slot names: each entry, then the slots whose
// device prefix (the name before the first ".") it is, in name order.
func rankSlots(names, priority []string) []int {
	index := make(map[string]int, len(names))
	for i, name := range names {
		index[name] = i
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	var rank []int
	taken := make(map[int]bool)
	add := func(i int) {
		if !taken[i] {
			taken[i] = true
			rank = append(rank, i)
		}
	}
	for _, entry := range priority {
		if i, ok := index[entry]; ok {
			add(i)
		}
		for _, name := range sorted {
			if prefix, _, ok := strings.Cut(name, "."); ok && prefix == entry {
				add(index[name])
			}
		}
	}
	return rank
}

func (p *pass) initAgents() {
	s, n := p.s, p.n
	p.free = make([]int64, len(s.Agents)*n)
	p.containers = make([]int, len(s.Agents))
	p.archs = make(map[string]bool)
	p.drfCap = make([]int64, n)
	byID := make([]int32, len(s.Agents))
	for i := range s.Agents {
		a := &s.Agents[i]
		byID[i] = int32(i)
		p.archs[a.Architecture] = true
		p.containers[i] = a.ContainerCount
		free := p.free[i*n : (i+1)*n]
		copy(free, a.Capacity)
		for j, o := range a.Occupied {
			free[j] -= o
		}
		if a.Schedulable {
			for j, c := range a.Capacity {
				p.drfCap[j] += c
			}
		}
	}
	slices.SortFunc(byID, func(x, y int32) int { return strings.Compare(s.Agents[x].ID, s.Agents[y].ID) })
	p.idRank = make([]int32, len(s.Agents))
	for r, a := range byID {
		p.idRank[a] = int32(r)
	}
	if s.ScalingGroup.RoundRobin {
		for _, a := range byID {
			if s.Agents[a].Schedulable {
				p.rr = append(p.rr, a)
			}
		}
		if len(p.rr) > 0 {
			p.rrNext = ((s.RoundRobinIndex % len(p.rr)) + len(p.rr)) % len(p.rr)
		}
		return
	}
	p.rrNext = s.RoundRobinIndex
	p.index = newAgentIndex(p, byID)
}

func (p *pass) initSessions() {
	s, n := p.s, p.n
	keyIdx := map[string]int32{}
	userIdx := map[string]int32{}
	projIdx := map[string]int32{}
	domIdx := map[string]int32{}
	p.sessions = make([]sess, len(s.Pending))
	var sums []int64
	total := 0
	for i := range s.Pending {
		total += len(s.Pending[i].Kernels)
		if s.Pending[i].Requested == nil && sums == nil {
			sums = make([]int64, len(s.Pending)*n)
		}
	}
	p.kernels = make([]KernelPlacement, 0, total)
	for i := range s.Pending {
		src := &s.Pending[i]
		ss := &p.sessions[i]
		ss.s = src
		ss.req = src.Requested
		if ss.req == nil {
			ss.req = sums[i*n : (i+1)*n : (i+1)*n]
			for _, k := range src.Kernels {
				for j, v := range k.Requested {
					ss.req[j] += v
				}
			}
		}
		if src.ClusterMode != MultiNode {
			for _, k := range src.Kernels {
				switch {
				case k.Architecture == "":
				case ss.arch == "":
					ss.arch = k.Architecture
				case ss.arch != k.Architecture:
					ss.mixedArch = true
				}
			}
		}
		ss.key = intern(keyIdx, src.AccessKey, func() { p.keys = append(p.keys, p.newKey(src.AccessKey)) })
		ss.user = intern(userIdx, src.UserUUID, func() { p.users = append(p.users, p.newUser(src.UserUUID)) })
		ss.project = intern(projIdx, src.ProjectID, func() {
			p.projects = append(p.projects, p.newLimit(s.Usage.Projects[src.ProjectID], s.Limits.Projects[src.ProjectID]))
		})
		ss.domain = intern(domIdx, src.Domain, func() {
			p.domains = append(p.domains, p.newLimit(s.Usage.Domains[src.Domain], s.Limits.Domains[src.Domain]))
		})
	}
}

// intern returns the index of name in m, calling add and assigning the next index when it
// is new.
func intern(m map[string]int32, name string, add func()) int32 {
	if i, ok := m[name]; ok {
		return i
	}
	i := int32(len(m))
	m[name] = i
	add()
	return i
}

// vec returns a copy of v, or zeros when v is nil.
func (p *pass) vec(v []int64) []int64 {
	out := make([]int64, p.n)
	copy(out, v)
	return out
}

func (p *pass) newKey(ak string) keyState {
	policy := p.s.Limits.Keypairs[ak]
	u := p.s.Usage.Keypairs[ak]
	k := keyState{
		policy:          &policy,
		occupied:        p.vec(u.Occupied),
		groupOccupied:   p.vec(u.GroupOccupied),
		pendingSlots:    p.vec(u.PendingSlots),
		concurrency:     u.ConcurrencyUsed,
		sftpConcurrency: u.SFTPConcurrencyUsed,
		pending:         u.PendingCount,
	}
	k.share = p.dominantShare(k.groupOccupied)
	return k
}

func (p *pass) newUser(id string) userState {
	limit, ok := p.s.Limits.Users[id]
	return userState{occupied: p.vec(p.s.Usage.Users[id]), limit: limit, hasMain: ok}
}

func (p *pass) newLimit(occupied, limit []int64) limitState {
	return limitState{occupied: p.vec(occupied), limit: limit}
}

// dominantShare is the largest fraction of the scaling group's capacity that usage takes in
// any slot.
func (p *pass) dominantShare(usage []int64) float64 {
	var share float64
	for i, c := range p.drfCap {
		if c > 0 {
			share = max(share, float64(usage[i])/float64(c))
		}
	}
	return share
}

// fifoCmp orders sessions oldest first, then by ID.
func (p *pass) fifoCmp(a, b int32) int {
	x, y := p.sessions[a].s, p.sessions[b].s
	if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(x.ID, y.ID)
}

// cancelTimedOut cancels the sessions pending for at least the pending timeout and marks
// them done, so no queue sees them.
func (p *pass) cancelTimedOut() {
	timeout := p.s.ScalingGroup.PendingTimeout
	if timeout <= 0 {
		return
	}
	var expired []int32
	for i := range p.sessions {
		if p.s.Now.Sub(p.sessions[i].s.CreatedAt) >= timeout {
			expired = append(expired, int32(i))
		}
	}
	slices.SortFunc(expired, p.fifoCmp)
	for _, i := range expired {
		ss := &p.sessions[i]
		p.dropPending(ss)
		ss.s = nil
		p.plan.Cancelled = append(p.plan.Cancelled, Cancel{SessionID: p.s.Pending[i].ID, Reason: StatusPendingTimeout})
	}
}

// dropPending removes a session from its key's pending count and slots.
func (p *pass) dropPending(ss *sess) {
	k := &p.keys[ss.key]
	k.pending--
	for i, v := range ss.req {
		k.pendingSlots[i] -= v
	}
}

// queue returns the sessions still to consider in FIFO order (with the num_retries_to_skip
// rule) or, for lifo, newest first.
func (p *pass) queue(lifo bool) []int32 {
	q := make([]int32, 0, len(p.sessions))
	for i := range p.sessions {
		if p.sessions[i].s != nil {
			q = append(q, int32(i))
		}
	}
	slices.SortFunc(q, p.fifoCmp)
	if lifo {
		slices.Reverse(q)
		return q
	}
	if skip := p.s.ScalingGroup.NumRetriesToSkip; skip > 0 {
		// Sessions that failed num_retries_to_skip times go last, oldest first.
		late := make([]int32, 0)
		early := q[:0]
		for _, i := range q {
			if p.sessions[i].s.Retries >= skip {
				late = append(late, i)
			} else {
				early = append(early, i)
			}
		}
		q = append(early, late...)
	}
	return q
}

func (p *pass) runList(q []int32) {
	for _, i := range q {
		p.consider(i)
	}
}

// runDRF considers the sessions key by key: always the oldest remaining session of the key
// with the smallest dominant share, recomputed after each placement.
func (p *pass) runDRF() {
	for i := range p.sessions {
		if p.sessions[i].s != nil {
			k := &p.keys[p.sessions[i].key]
			k.queue = append(k.queue, int32(i))
		}
	}
	h := drfHeap{p: p}
	for k := range p.keys {
		if len(p.keys[k].queue) > 0 {
			slices.SortFunc(p.keys[k].queue, p.fifoCmp)
			h.keys = append(h.keys, int32(k))
		}
	}
	h.init()
	for len(h.keys) > 0 {
		k := &p.keys[h.keys[0]]
		i := k.queue[k.head]
		k.head++
		p.consider(i)
		if k.head == len(k.queue) {
			h.pop()
		} else {
			h.down(0) // the key's share and head only grow
		}
	}
}

// drfHeap is a min-heap of access keys by (share, head session's FIFO order).
type drfHeap struct {
	p    *pass
	keys []int32
}

func (h *drfHeap) less(a, b int) bool {
	x, y := &h.p.keys[h.keys[a]], &h.p.keys[h.keys[b]]
	if x.share != y.share {
		return x.share < y.share
	}
	return h.p.fifoCmp(x.queue[x.head], y.queue[y.head]) < 0
}

func (h *drfHeap) init() {
	for i := len(h.keys)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *drfHeap) down(i int) {
	n := len(h.keys)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.keys[i], h.keys[m] = h.keys[m], h.keys[i]
		i = m
	}
}

func (h *drfHeap) pop() {
	last := len(h.keys) - 1
	h.keys[0] = h.keys[last]
	h.keys = h.keys[:last]
	if last > 0 {
		h.down(0)
	}
}

// consider runs the predicates and agent selection for one session and records the outcome.
func (p *pass) consider(i int32) {
	ss := &p.sessions[i]
	if ok, failed, passed := p.runPredicates(ss); !ok {
		p.fail(ss, &Skip{
			SessionID:        ss.s.ID,
			Reason:           StatusPredicateChecksFailed,
			Retries:          ss.s.Retries + 1,
			FailedPredicates: failed,
			PassedPredicates: passed,
		})
		return
	}
	if !p.place(ss) {
		return
	}
	p.commit(ss)
}

// fail records a session that stays pending, or cancels it: a private session that failed a
// predicate at once, any session once its retries reach ScalingGroup.MaxRetries.
func (p *pass) fail(ss *sess, skip *Skip) {
	switch {
	case ss.s.Private && skip.Reason == StatusPredicateChecksFailed:
		p.dropPending(ss)
		p.plan.Cancelled = append(p.plan.Cancelled, Cancel{SessionID: skip.SessionID, Reason: StatusPendingTimeout, Attempt: skip})
	case p.s.ScalingGroup.MaxRetries > 0 && skip.Retries >= p.s.ScalingGroup.MaxRetries:
		p.dropPending(ss)
		p.plan.Cancelled = append(p.plan.Cancelled, Cancel{SessionID: skip.SessionID, Reason: skip.Reason, Attempt: skip})
	default:
		p.plan.Skipped = append(p.plan.Skipped, *skip)
	}
}

// place selects agents for the session's kernels and reserves their slots in memory. When
// no agent fits, it records the skip, undoes any reservation and returns false.
func (p *pass) place(ss *sess) bool {
	ks := ss.s.Kernels
	start := len(p.kernels)
	if ss.s.ClusterMode == MultiNode {
		p.held = p.held[:0]
		rrNext := p.rrNext
		for _, k := range ks {
			a := p.choose(k.Requested, k.Architecture, 1, k.AgentID)
			if a < 0 {
				// The counts include the kernels held so far, as the search saw them.
				metrics, msg := p.whyNot(k.ID, k.AgentID, k.Requested, k.Architecture, 1)
				for j := len(p.held) - 1; j >= 0; j-- {
					p.release(p.held[j], ks[j].Requested, 1)
				}
				p.kernels = p.kernels[:start]
				p.rrNext = rrNext
				p.noAgent(ss, k.ID, metrics, msg)
				return false
			}
			p.reserve(a, k.Requested, 1)
			p.held = append(p.held, a)
			p.kernels = append(p.kernels, KernelPlacement{KernelID: k.ID, AgentID: p.s.Agents[a].ID, Slots: k.Requested})
		}
	} else {
		designated := ks[0].AgentID
		a := p.choose(ss.req, ss.arch, len(ks), designated)
		if a < 0 {
			metrics, msg := p.whyNot("", designated, ss.req, ss.arch, len(ks))
			p.noAgent(ss, "", metrics, msg)
			return false
		}
		p.reserve(a, ss.req, len(ks))
		id := p.s.Agents[a].ID
		for _, k := range ks {
			p.kernels = append(p.kernels, KernelPlacement{KernelID: k.ID, AgentID: id, Slots: k.Requested})
		}
	}
	p.plan.Placements = append(p.plan.Placements, Placement{
		SessionID: ss.s.ID,
		Kernels:   p.kernels[start:len(p.kernels):len(p.kernels)],
	})
	return true
}

// noAgent records a session no agent could host, with the counts and message of whyNot.
func (p *pass) noAgent(ss *sess, kernelID string, m *Metrics, msg string) {
	passed := make([]string, 0, len(predicates))
	for _, pr := range predicates {
		if !pr.skipPrivate || !ss.s.Private {
			passed = append(passed, pr.name)
		}
	}
	p.fail(ss, &Skip{
		SessionID:        ss.s.ID,
		Reason:           StatusNoAvailableInstances,
		Retries:          ss.s.Retries + 1,
		PassedPredicates: passed,
		Msg:              msg,
		KernelID:         kernelID,
		Metrics:          m,
	})
}

// commit adds a placed session to its owners' usage.
func (p *pass) commit(ss *sess) {
	k := &p.keys[ss.key]
	if ss.s.Private {
		k.sftpConcurrency++
	} else {
		k.concurrency++
		addTo(k.occupied, ss.req)
	}
	addTo(k.groupOccupied, ss.req)
	p.dropPending(ss)
	addTo(p.users[ss.user].occupied, ss.req)
	addTo(p.projects[ss.project].occupied, ss.req)
	addTo(p.domains[ss.domain].occupied, ss.req)
	if p.algo == DRF {
		k.share = p.dominantShare(k.groupOccupied)
	}
}

func addTo(dst, v []int64) {
	for i, x := range v {
		dst[i] += x
	}
}
