package session

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
)

// MaxPendingDefaultKey is the shared-configuration key (below /sorna/{namespace}/) of the
// pending-session cap that applies to an access key whose keypair resource policy leaves
// max_pending_session_count unset (null): a whole number, "0" for no cap. Backend.AI leaves
// such keys unlimited, which lets one key fill the queue; Hangar caps them at
// DefaultMaxPendingSessions unless this key says otherwise. A policy's own value always wins.
const MaxPendingDefaultKey = "config/hangar/session/default-max-pending-session-count"

// DefaultMaxPendingSessions is the pending-session cap of keys whose policy sets none.
const DefaultMaxPendingSessions = 100

// MaxPreopenPorts is the most preopen ports one session may ask for. Each one takes a host
// port from the agent's port pool for every kernel, so a long list only exhausts the pool.
const MaxPreopenPorts = 16

// pendingCap returns the pending-session cap of a key with the policy value policy (nil when
// unset), and false when there is none.
func pendingCap(s *functions.Server, policy *int32) (int64, bool) {
	if policy != nil {
		return int64(*policy), true
	}
	limit := int64(DefaultMaxPendingSessions)
	if sh := s.Deps().Shared; sh != nil {
		if v, ok := sh.Get(MaxPendingDefaultKey); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			switch {
			case err != nil || n < 0:
				s.Deps().Log().Warn("ignoring an invalid default pending-session cap", "key", MaxPendingDefaultKey, "value", v)
			case n == 0:
				return 0, false
			default:
				limit = n
			}
		}
	}
	return limit, true
}

// checkPendingCap refuses a session that would take its owner's access key over its pending
// cap: 412 quota-exceeded, with the message of Backend.AI's pending_session_count_limit
// predicate. It runs in the insert transaction under a per-key advisory lock, so concurrent
// creates of one key cannot all slip under the cap together.
func checkPendingCap(ctx context.Context, tx pgx.Tx, r *request) error {
	if !r.pendingLimited {
		return nil
	}
	if err := db.Q.SessionAdmissionLock(ctx, tx, r.owner.AccessKey); err != nil {
		return err
	}
	n, err := db.Q.SessionAdmissionPendingCount(ctx, tx, &dbsqlc.SessionAdmissionPendingCountParams{
		AccessKey: r.owner.AccessKey, AtMost: r.pendingLimit,
	})
	if err != nil {
		return err
	}
	if n >= r.pendingLimit {
		return functions.ErrQuotaExceeded(fmt.Sprintf("You cannot create more than %d pending session(s)", r.pendingLimit))
	}
	return nil
}

// checkCapacity refuses, at create time, a request that no agent of the scaling group could
// ever host: one that exceeds, in some slot, the capacity (not the free amount) of every
// ALIVE, schedulable agent of the session's architecture. Such a session would otherwise
// stay PENDING forever. The answer is 400 invalid-api-params naming the slots: the request
// itself is what has to change, so Backend.AI's 503 instance-not-available (which invites a
// retry) would mislead. A scaling group without any ALIVE, schedulable agent (a fresh
// cluster, every agent in maintenance) accepts the session, which waits for one; so do
// sessions with designated agents, which the scheduler checks against those agents.
// It reads on q (the create transaction).
func checkCapacity(ctx context.Context, q db.DBTX, r *request) error {
	if len(r.agents) > 0 {
		return nil
	}
	// The request per agent: the whole session for single-node, one kernel for multi-node.
	need := r.perKernel
	if r.clusterMode != "multi-node" {
		need = scaleSlots(r.perKernel, r.clusterSize)
	}
	wanted := map[string]decimal.Decimal{}
	for slot, v := range need {
		if d, err := decimal.NewFromString(v); err == nil && d.IsPositive() {
			wanted[slot] = d
		}
	}
	// The common case, some agent fits, is one EXISTS query; the agents' slots are read only
	// to explain a refusal.
	if b, err := json.Marshal(wanted); err == nil {
		fits, err := db.Q.SessionAdmissionSomeAgentFits(ctx, q, &dbsqlc.SessionAdmissionSomeAgentFitsParams{
			ScalingGroup: r.sgroup, Architecture: r.img.Architecture, Wanted: b,
		})
		if err != nil {
			return functions.FromDB(err, "agent")
		}
		if fits {
			return nil
		}
	}
	rows, err := db.Q.SessionAdmissionAgentSlots(ctx, q, r.sgroup)
	if err != nil {
		return functions.FromDB(err, "agent")
	}
	if len(rows) == 0 {
		return nil
	}
	// Capacity per agent of the right architecture, and the largest offered per slot.
	type agentCap struct {
		arch string
		cap  map[string]decimal.Decimal
	}
	var agents []*agentCap
	byID := map[string]*agentCap{}
	largest := map[string]decimal.Decimal{}
	for _, row := range rows {
		a := byID[row.AgentID]
		if a == nil {
			a = &agentCap{arch: row.Architecture, cap: map[string]decimal.Decimal{}}
			byID[row.AgentID] = a
			agents = append(agents, a)
		}
		amount, err := slots.ParseStored(row.Capacity, row.SlotType, slots.Finite)
		if err != nil {
			continue // the scheduler skips such an agent too
		}
		a.cap[row.Slot] = amount.Decimal()
	}
	archOK := 0
	for _, a := range agents {
		if r.img.Architecture != "" && a.arch != r.img.Architecture {
			continue
		}
		archOK++
		fits := true
		for slot, d := range wanted {
			c := a.cap[slot]
			if c.GreaterThan(largest[slot]) {
				largest[slot] = c
			}
			if c.LessThan(d) {
				fits = false
			}
		}
		if fits {
			return nil
		}
	}
	if archOK == 0 {
		return functions.ErrInvalidAPIParams(
			fmt.Sprintf("No agent of the scaling group %s runs the architecture %s of the image.", r.sgroup, r.img.Architecture),
			map[string]string{"architecture": "no agent of scaling group " + r.sgroup + " has it"})
	}
	data := map[string]string{}
	var parts []string
	for slot, d := range wanted {
		if d.GreaterThan(largest[slot]) {
			data["config.resources."+slot] = fmt.Sprintf("exceeds the largest agent capacity (%s) of scaling group %s", slots.Format(largest[slot]), r.sgroup)
			parts = append(parts, fmt.Sprintf("%s: requested %s > at most %s", slot, slots.Format(d), slots.Format(largest[slot])))
		}
	}
	sort.Strings(parts)
	msg := "No agent of the scaling group " + r.sgroup + " could ever host this request"
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, ", ") + ")"
	} else {
		msg += " (no single agent has all the requested slots)"
	}
	if r.clusterMode != "multi-node" && r.clusterSize > 1 {
		msg += fmt.Sprintf("; a single-node session needs its %d kernels on one agent", r.clusterSize)
	}
	return functions.ErrInvalidAPIParams(msg+".", data)
}

// checkUUIDName refuses a session name that parses as a UUID: lookups by reference try the
// session id first, so such a name could shadow, or be shadowed by, another session's id.
func checkUUIDName(key, name string) error {
	if _, err := uuid.Parse(name); err == nil {
		return functions.ErrInvalidAPIParams("A session name cannot be a UUID.", map[string]string{key: "must not be a UUID"})
	}
	return nil
}

// checkSessionTotal refuses a request whose session total (the per-kernel amounts times the
// cluster size) leaves the bounds of an amount, which the scheduler could not evaluate.
func checkSessionTotal(r *request, known map[string]string) error {
	for slot, v := range scaleSlots(r.perKernel, r.clusterSize) {
		if _, err := slots.ParseValue(v, known[slot], slots.Finite); err != nil {
			return functions.ErrInvalidAPIParams(
				fmt.Sprintf("The session's total %s (%s per kernel times %d kernels) is out of range.", slot, r.perKernel[slot], r.clusterSize),
				map[string]string{"config.resources." + slot: err.Error()})
		}
	}
	return nil
}
