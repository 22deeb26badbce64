package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Agent selection follows Nomad's split: feasibility (schedulable, architecture, container
// limit, free slots) decides which agents can host a request, and a ranker orders those that
// can. Instead of filtering and sorting every agent for every request, the pass keeps the
// schedulable agents in an agentIndex: groups of agents with the same architecture and the
// same offered slots, each kept sorted best first. The best agent that fits is then near the
// front of its group, and a placement moves only the agent it changed.

// agentIndex holds the schedulable agents in groups sorted by the ranker.
type agentIndex struct {
	p       *pass
	groups  []agentGroup
	groupOf []int32 // per agent: its group, -1 when not schedulable
	// dynamic is set when the order depends on free slots (dispersed, concentrated), so a
	// reservation moves the agent within its group. It also means the group is sorted by the
	// free amount of the first ranked slot, which bounds the search.
	dynamic bool
}

// agentGroup is the agents of one architecture offering the same slots (capacity > 0).
type agentGroup struct {
	arch    string
	offered []bool
	order   []int32 // best first
}

func newAgentIndex(p *pass, byID []int32) *agentIndex {
	x := &agentIndex{p: p, groupOf: make([]int32, len(p.s.Agents))}
	x.dynamic = p.strategy != Legacy && len(p.rank) > 0
	byKey := map[string]int32{}
	var key []byte
	for _, a := range byID {
		x.groupOf[a] = -1
		ag := &p.s.Agents[a]
		if !ag.Schedulable {
			continue
		}
		key = append(key[:0], ag.Architecture...)
		key = append(key, 0)
		for _, c := range ag.Capacity {
			key = append(key, byte('0'+min(c, 1)))
		}
		g, ok := byKey[string(key)]
		if !ok {
			g = int32(len(x.groups))
			byKey[string(key)] = g
			offered := make([]bool, p.n)
			for i, c := range ag.Capacity {
				offered[i] = c > 0
			}
			x.groups = append(x.groups, agentGroup{arch: ag.Architecture, offered: offered})
		}
		x.groupOf[a] = g
		x.groups[g].order = append(x.groups[g].order, a)
	}
	for i := range x.groups {
		slices.SortFunc(x.groups[i].order, p.cmpAgents)
	}
	return x
}

// cmpAgents ranks two agents: negative when a is the better host. Dispersed prefers more free
// slots, concentrated fewer, legacy a larger capacity, comparing the ranked slots in priority
// order; the smaller agent ID breaks ties.
func (p *pass) cmpAgents(a, b int32) int {
	n := p.n
	switch p.strategy {
	case Dispersed:
		for _, s := range p.rank {
			if x, y := p.free[int(a)*n+s], p.free[int(b)*n+s]; x != y {
				return cmp.Compare(y, x)
			}
		}
	case Concentrated:
		for _, s := range p.rank {
			if x, y := p.free[int(a)*n+s], p.free[int(b)*n+s]; x != y {
				return cmp.Compare(x, y)
			}
		}
	case Legacy:
		for _, s := range p.rank {
			if x, y := p.s.Agents[a].Capacity[s], p.s.Agents[b].Capacity[s]; x != y {
				return cmp.Compare(y, x)
			}
		}
	}
	return cmp.Compare(p.idRank[a], p.idRank[b])
}

// search returns the position of the first agent of the group not ranked before a.
func (x *agentIndex) search(g *agentGroup, a int32) int {
	lo, hi := 0, len(g.order)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x.p.cmpAgents(g.order[mid], a) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (x *agentIndex) remove(a int32) {
	g := &x.groups[x.groupOf[a]]
	i := x.search(g, a)
	copy(g.order[i:], g.order[i+1:])
	g.order = g.order[:len(g.order)-1]
}

func (x *agentIndex) insert(a int32) {
	g := &x.groups[x.groupOf[a]]
	i := x.search(g, a)
	g.order = append(g.order, 0)
	copy(g.order[i+1:], g.order[i:])
	g.order[i] = a
}

// pick returns the best agent that can host req with c more containers, or -1. Agents
// offering fewer slots the request does not use come first (not for DRF), then the ranker
// decides.
func (x *agentIndex) pick(req []int64, arch string, c int) int32 {
	p := x.p
	best, bestExtras := int32(-1), 0
	for gi := range x.groups {
		g := &x.groups[gi]
		if arch != "" && g.arch != arch {
			continue
		}
		extras, possible := 0, true
		for s, off := range g.offered {
			if req[s] > 0 && !off {
				possible = false
				break
			}
			if req[s] == 0 && off {
				extras++
			}
		}
		if !possible {
			continue
		}
		if !p.useExtras {
			extras = 0
		}
		if best >= 0 && extras > bestExtras {
			continue
		}
		a := x.first(g, req, c)
		if a >= 0 && (best < 0 || extras < bestExtras || p.cmpAgents(a, best) < 0) {
			best, bestExtras = a, extras
		}
	}
	return best
}

// first returns the first agent of the group, in rank order, that fits.
func (x *agentIndex) first(g *agentGroup, req []int64, c int) int32 {
	p := x.p
	order := g.order
	if x.dynamic {
		n, s0 := p.n, p.rank[0]
		need := req[s0]
		if p.strategy == Concentrated {
			// Ascending free amounts of the first ranked slot: skip the agents short of it.
			lo, hi := 0, len(order)
			for lo < hi {
				mid := int(uint(lo+hi) >> 1)
				if p.free[int(order[mid])*n+s0] < need {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			order = order[lo:]
		} else {
			// Descending: stop at the first agent short of it.
			for _, a := range order {
				if p.free[int(a)*n+s0] < need {
					return -1
				}
				if p.fits(a, req, c) {
					return a
				}
			}
			return -1
		}
	}
	for _, a := range order {
		if p.fits(a, req, c) {
			return a
		}
	}
	return -1
}

// fits reports whether agent a has c more containers to spare and req free in every slot.
func (p *pass) fits(a int32, req []int64, c int) bool {
	if m := p.s.Agents[a].MaxContainers; m > 0 && p.containers[a]+c > m {
		return false
	}
	free := p.free[int(a)*p.n : int(a+1)*p.n]
	for s, r := range req {
		if free[s] < r {
			return false
		}
	}
	return true
}

// choose returns the designated agent when it can host the request, the agent pick selects
// when none is designated, or -1.
func (p *pass) choose(req []int64, arch string, c int, designated string) int32 {
	if designated == "" {
		return p.pick(req, arch, c)
	}
	a, ok := p.agentByID(designated)
	if !ok || (arch != "" && p.s.Agents[a].Architecture != arch) || !p.fits(a, req, c) {
		return -1
	}
	return a
}

// agentByID returns the index of the agent with the given ID.
func (p *pass) agentByID(id string) (int32, bool) {
	if p.byID == nil {
		p.byID = make(map[string]int32, len(p.s.Agents))
		for i := range p.s.Agents {
			p.byID[p.s.Agents[i].ID] = int32(i)
		}
	}
	a, ok := p.byID[id]
	return a, ok
}

// pick returns the agent for a request, or -1.
func (p *pass) pick(req []int64, arch string, c int) int32 {
	if p.index != nil {
		return p.index.pick(req, arch, c)
	}
	// Round-robin: the first agent that fits, at or after the round-robin position.
	for j := range p.rr {
		i := (p.rrNext + j) % len(p.rr)
		a := p.rr[i]
		if arch != "" && p.s.Agents[a].Architecture != arch {
			continue
		}
		if p.fits(a, req, c) {
			p.rrNext = (i + 1) % len(p.rr)
			return a
		}
	}
	return -1
}

// reserve takes req and c containers from agent a.
func (p *pass) reserve(a int32, req []int64, c int) {
	p.adjust(a, req, c, -1)
}

// release gives back what reserve took.
func (p *pass) release(a int32, req []int64, c int) {
	p.adjust(a, req, c, 1)
}

func (p *pass) adjust(a int32, req []int64, c int, sign int64) {
	x := p.index
	move := x != nil && x.dynamic && x.groupOf[a] >= 0 // designated agents may be unindexed
	if move {
		x.remove(a)
	}
	if p.reasons != nil {
		p.reasons.update(p, a, -1)
	}
	free := p.free[int(a)*p.n : int(a+1)*p.n]
	for s, r := range req {
		free[s] += sign * r
	}
	p.containers[a] -= int(sign) * c
	if p.reasons != nil {
		p.reasons.update(p, a, 1)
	}
	if move {
		x.insert(a)
	}
}

// metrics counts, over every agent of the scaling group (or only the designated one), why
// none can host req.
func (p *pass) metrics(req []int64, arch string, c int, designated string) *Metrics {
	var evaluated, unschedulable, wrongArch, containerLimit, exhausted int
	short := make([]int, p.n)
	for i := range p.s.Agents {
		a := &p.s.Agents[i]
		if designated != "" && a.ID != designated {
			continue
		}
		evaluated++
		switch {
		case !a.Schedulable && designated == "":
			unschedulable++
		case arch != "" && a.Architecture != arch:
			wrongArch++
		case a.MaxContainers > 0 && p.containers[i]+c > a.MaxContainers:
			containerLimit++
		default:
			free := p.free[i*p.n : (i+1)*p.n]
			lacking := false
			for s, r := range req {
				if free[s] < r {
					short[s]++
					lacking = true
				}
			}
			if lacking {
				exhausted++
			}
		}
	}
	m := &Metrics{
		AgentsEvaluated: evaluated,
		AgentsFiltered:  map[string]int{},
		AgentsExhausted: exhausted,
		SlotsExhausted:  map[string]int{},
	}
	for reason, k := range map[string]int{
		FilterUnschedulable: unschedulable, FilterArchitecture: wrongArch, FilterContainerLimit: containerLimit,
	} {
		if k > 0 {
			m.AgentsFiltered[reason] = k
		}
	}
	for s, k := range short {
		if k > 0 {
			m.SlotsExhausted[p.s.SlotNames[s]] = k
		}
	}
	return m
}

// metricsMessage explains metrics in one sentence, such as "No agent can host the session
// (cpu=1 mem=4g): 3 agents evaluated; 1 not schedulable; 2 out of free slots (cpu on 2, mem
// on 1)".
func (p *pass) metricsMessage(kernelID, designated string, req []int64, m *Metrics) string {
	var b strings.Builder
	if designated != "" {
		fmt.Fprintf(&b, "The designated agent %s cannot host", designated)
	} else {
		b.WriteString("No agent can host")
	}
	if kernelID != "" {
		fmt.Fprintf(&b, " the kernel %s", kernelID)
	} else {
		b.WriteString(" the session")
	}
	fmt.Fprintf(&b, " (%s) in the scaling group %s: %d agents evaluated",
		p.formatVector(req), p.s.ScalingGroup.Name, m.AgentsEvaluated)
	for _, reason := range [...]string{FilterUnschedulable, FilterArchitecture, FilterContainerLimit} {
		if k := m.AgentsFiltered[reason]; k > 0 {
			fmt.Fprintf(&b, "; %d %s", k, reason)
		}
	}
	if m.AgentsExhausted > 0 {
		fmt.Fprintf(&b, "; %d out of free slots (", m.AgentsExhausted)
		first := true
		for _, name := range p.s.SlotNames {
			if k := m.SlotsExhausted[name]; k > 0 {
				if !first {
					b.WriteString(", ")
				}
				first = false
				fmt.Fprintf(&b, "%s on %d", name, k)
			}
		}
		b.WriteString(")")
	}
	return b.String()
}
