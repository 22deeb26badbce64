package scheduler

import "encoding/binary"

// Why a session found no agent ([Metrics] and its message) is a count over every agent of
// the scaling group. A pass that skips many sessions of the same shape (a queue of requests
// the group cannot host) would recount the same agents for each of them, so the pass keeps
// the counts of the shapes it has seen: the first skip of a shape counts every agent, and
// every reservation or release afterwards updates each kept count for the one agent it
// changed (its contribution before the change is taken out, the one after is put back). A
// later skip of the same shape then costs a map lookup, and its counts are exactly what a
// full count would give at that point of the pass.

// maxReasons bounds the shapes a pass keeps counts for; each reservation updates all of
// them. When full, the oldest shape gives way.
const maxReasons = 32

// reasonEntry holds the counts of one request shape (key): the requested vector, the
// architecture, the containers it needs and the designated agent.
type reasonEntry struct {
	key        string
	req        []int64
	arch       string
	c          int
	designated string

	evaluated, unschedulable, wrongArch, containerLimit, exhausted int
	short                                                          []int

	// m and msg are built from the counts on demand and dropped when a count may have
	// changed; msg is the single-node message (multi-node messages name their kernel).
	m   *Metrics
	msg string
}

// reasons holds the counts of the request shapes seen in one pass.
type reasons struct {
	byKey   map[string]int
	entries []*reasonEntry
	next    int    // the entry the next new shape replaces once full
	buf     []byte // key scratch space
}

// whyNot returns the Metrics of a request no agent can host and the message explaining it.
// Metrics may be shared by several skips of one pass: it is read-only.
func (p *pass) whyNot(kernelID, designated string, req []int64, arch string, c int) (*Metrics, string) {
	if p.reasons == nil {
		m := p.metrics(req, arch, c, designated)
		return m, p.metricsMessage(kernelID, designated, req, m)
	}
	e := p.reasons.entry(p, req, arch, c, designated)
	if e.m == nil {
		e.m = e.metrics(p)
		e.msg = ""
	}
	if kernelID != "" {
		return e.m, p.metricsMessage(kernelID, designated, req, e.m)
	}
	if e.msg == "" {
		e.msg = p.metricsMessage("", designated, req, e.m)
	}
	return e.m, e.msg
}

// entry returns the counts of a request shape, counting every agent when the shape is new.
func (r *reasons) entry(p *pass, req []int64, arch string, c int, designated string) *reasonEntry {
	b := append(r.buf[:0], arch...)
	b = append(b, 0)
	b = append(b, designated...)
	b = append(b, 0)
	b = binary.AppendVarint(b, int64(c))
	for _, v := range req {
		b = binary.AppendVarint(b, v)
	}
	r.buf = b
	if i, ok := r.byKey[string(b)]; ok {
		return r.entries[i]
	}
	e := &reasonEntry{
		key: string(b), req: append([]int64(nil), req...), arch: arch, c: c, designated: designated,
		short: make([]int, p.n),
	}
	for i := range p.s.Agents {
		e.count(p, int32(i), 1)
	}
	if r.byKey == nil {
		r.byKey = make(map[string]int, maxReasons)
	}
	i := len(r.entries)
	if i < maxReasons {
		r.entries = append(r.entries, e)
	} else {
		i = r.next
		r.next = (r.next + 1) % maxReasons
		delete(r.byKey, r.entries[i].key)
		r.entries[i] = e
	}
	r.byKey[e.key] = i
	return e
}

// count adds (sign 1) or removes (sign -1) agent a's contribution to e, as metrics counts it.
func (e *reasonEntry) count(p *pass, a int32, sign int) {
	ag := &p.s.Agents[a]
	if e.designated != "" && ag.ID != e.designated {
		return
	}
	e.m = nil
	e.evaluated += sign
	switch {
	case !ag.Schedulable && e.designated == "":
		e.unschedulable += sign
	case e.arch != "" && ag.Architecture != e.arch:
		e.wrongArch += sign
	case ag.MaxContainers > 0 && p.containers[a]+e.c > ag.MaxContainers:
		e.containerLimit += sign
	default:
		free := p.free[int(a)*p.n : int(a+1)*p.n]
		lacking := false
		for s, r := range e.req {
			if free[s] < r {
				e.short[s] += sign
				lacking = true
			}
		}
		if lacking {
			e.exhausted += sign
		}
	}
}

// update adds (sign 1) or removes (sign -1) agent a's contribution to every kept shape.
func (r *reasons) update(p *pass, a int32, sign int) {
	for _, e := range r.entries {
		e.count(p, a, sign)
	}
}

// metrics builds the Metrics of e's counts.
func (e *reasonEntry) metrics(p *pass) *Metrics {
	m := &Metrics{
		AgentsEvaluated: e.evaluated,
		AgentsFiltered:  map[string]int{},
		AgentsExhausted: e.exhausted,
		SlotsExhausted:  map[string]int{},
	}
	for reason, k := range map[string]int{
		FilterUnschedulable: e.unschedulable, FilterArchitecture: e.wrongArch, FilterContainerLimit: e.containerLimit,
	} {
		if k > 0 {
			m.AgentsFiltered[reason] = k
		}
	}
	for s, k := range e.short {
		if k > 0 {
			m.SlotsExhausted[p.s.SlotNames[s]] = k
		}
	}
	return m
}
