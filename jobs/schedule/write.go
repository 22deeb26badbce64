package schedule

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/scheduler"
	"github.com/hangar-run/hangar/internal/slots"
)

// This file writes a plan back in batches: every statement covers up to a chunk of
// placements (or of agent slots), so a pass costs a few statements per thousand placements
// rather than several per placement.
//
// A placement is written only when it still holds: its session and all its kernels are still
// PENDING, and every agent slot it reserves still has room. The rows are locked first (in key
// order within each statement, sessions before kernels before agent slots, as the lifecycle
// changes lock them), so the room is read from the current rows and nobody changes them until
// the pass commits; the placements are then taken in plan order, each against what the
// earlier ones of the pass left, exactly as one guarded reservation per placement would. A
// placement that no longer holds leaves its session PENDING for the next pass and the others
// go ahead. Each agent slot is then updated once for the whole pass. The writes are guarded
// again (status PENDING, occupied + delta <= capacity) and must change exactly the rows
// decided; any difference aborts the pass (its transaction rolls back).

// DefaultWriteChunk is how many placements, skipped sessions or agents one statement
// covers: it bounds the statements' size.
const DefaultWriteChunk = 1000

// prepared is one placement ready to write.
type prepared struct {
	pl        *scheduler.Placement
	sid       uuid.UUID
	kernels   []uuid.UUID
	occupied  []string // per kernel: occupied_slots JSON
	agents    []string // the session's agents, first use order
	occupying string   // the session's occupying_slots JSON
	// deltas are the amounts to add per agent (indexed like agents) and slot index; only
	// positive amounts are reserved.
	deltas [][]int64
}

// slotRow is one locked agent slot.
type slotRow struct {
	capacity, occupied decimal.Decimal
	// readable is false when capacity or occupied is not a finite decimal: nothing is
	// reserved on it.
	readable bool
}

// slotKey names one agent slot.
type slotKey struct{ agent, slot string }

// writePlacements writes the placements that still hold and returns them in plan order.
func (h *Handlers) writePlacements(ctx context.Context, tx pgx.Tx, snap *scheduler.Snapshot, placements []scheduler.Placement, now time.Time) ([]*scheduler.Placement, error) {
	// Lock the sessions and kernels, keeping the placements whose rows are still PENDING.
	var live []*prepared
	for chunk := range slices.Chunk(placements, h.writeChunk) {
		ok, err := h.lockPending(ctx, tx, snap, chunk)
		if err != nil {
			return nil, err
		}
		live = append(live, ok...)
	}
	if len(live) == 0 {
		return nil, nil
	}

	// Lock the slots of their agents.
	agentSet := map[string]bool{}
	for _, p := range live {
		for _, a := range p.agents {
			agentSet[a] = true
		}
	}
	slotsOf := map[slotKey]*slotRow{}
	for agents := range slices.Chunk(slices.Sorted(maps.Keys(agentSet)), h.writeChunk) {
		rows, err := db.Q.ScheduleLockAgentSlots(ctx, tx, agents)
		if err != nil {
			return nil, fmt.Errorf("lock the slots of %d agents: %w", len(agents), err)
		}
		for _, r := range rows {
			c, err1 := decimal.NewFromString(r.Capacity)
			o, err2 := decimal.NewFromString(r.Occupied)
			slotsOf[slotKey{r.AgentID, r.Slot}] = &slotRow{capacity: c, occupied: o, readable: err1 == nil && err2 == nil}
		}
	}

	// Take the placements in plan order against the locked amounts.
	amount := func(v int64, s int) (decimal.Decimal, bool) {
		d, err := decimal.NewFromString(scheduler.FormatAmount(v, slots.GuessType(snap.SlotTypes, snap.SlotNames[s])))
		return d, err == nil
	}
	total := map[slotKey]decimal.Decimal{}
	placed := live[:0]
	for _, p := range live {
		if !fits(snap, p, slotsOf, amount) {
			h.Logger.Info("placement no longer fits; session stays pending", "session", p.pl.SessionID, "scaling_group", snap.ScalingGroup.Name)
			continue
		}
		for i, a := range p.agents {
			for s, v := range p.deltas[i] {
				if v > 0 {
					k := slotKey{a, snap.SlotNames[s]}
					d, _ := amount(v, s) // fits parsed it
					slotsOf[k].occupied = slotsOf[k].occupied.Add(d)
					total[k] = total[k].Add(d)
				}
			}
		}
		placed = append(placed, p)
	}
	if len(placed) == 0 {
		return nil, nil
	}

	// Write: slots (one update per agent slot for the whole pass), kernels, sessions.
	keys := slices.SortedFunc(maps.Keys(total), func(x, y slotKey) int {
		return cmp.Or(strings.Compare(x.agent, y.agent), strings.Compare(x.slot, y.slot))
	})
	for chunk := range slices.Chunk(keys, 2*h.writeChunk) {
		res := &dbsqlc.ScheduleReserveAgentSlotsParams{
			AgentIds: make([]string, 0, len(chunk)), Slots: make([]string, 0, len(chunk)), Deltas: make([]string, 0, len(chunk)),
		}
		for _, k := range chunk {
			res.AgentIds = append(res.AgentIds, k.agent)
			res.Slots = append(res.Slots, k.slot)
			res.Deltas = append(res.Deltas, total[k].String())
		}
		n, err := db.Q.ScheduleReserveAgentSlots(ctx, tx, res)
		if err != nil {
			return nil, fmt.Errorf("reserve %d agent slots: %w", len(chunk), err)
		}
		if n != int64(len(chunk)) {
			return nil, fmt.Errorf("reserve agent slots: %d of %d reserved under lock", n, len(chunk))
		}
	}
	out := make([]*scheduler.Placement, 0, len(placed))
	for chunk := range slices.Chunk(placed, h.writeChunk) {
		if err := markScheduled(ctx, tx, chunk, now); err != nil {
			return nil, err
		}
		for _, p := range chunk {
			out = append(out, p.pl)
		}
	}
	return out, nil
}

// prepare computes what one placement writes.
func prepare(snap *scheduler.Snapshot, pl *scheduler.Placement) (*prepared, error) {
	sid, err := uuid.Parse(pl.SessionID)
	if err != nil {
		return nil, fmt.Errorf("session id %q: %w", pl.SessionID, err)
	}
	n := len(snap.SlotNames)
	p := &prepared{pl: pl, sid: sid, kernels: make([]uuid.UUID, 0, len(pl.Kernels)), occupied: make([]string, 0, len(pl.Kernels))}
	total := make([]int64, n)
	for _, k := range pl.Kernels {
		kid, err := uuid.Parse(k.KernelID)
		if err != nil {
			return nil, fmt.Errorf("kernel id %q: %w", k.KernelID, err)
		}
		b, err := json.Marshal(scheduler.FormatSlots(snap.SlotNames, snap.SlotTypes, k.Slots))
		if err != nil {
			return nil, fmt.Errorf("encode occupied slots: %w", err)
		}
		p.kernels = append(p.kernels, kid)
		p.occupied = append(p.occupied, string(b))
		i := slices.Index(p.agents, k.AgentID)
		if i < 0 {
			i = len(p.agents)
			p.agents = append(p.agents, k.AgentID)
			p.deltas = append(p.deltas, make([]int64, n))
		}
		for s, v := range k.Slots {
			p.deltas[i][s] += v
			total[s] += v
		}
	}
	b, err := json.Marshal(scheduler.FormatSlots(snap.SlotNames, snap.SlotTypes, total))
	if err != nil {
		return nil, fmt.Errorf("encode occupying slots: %w", err)
	}
	p.occupying = string(b)
	return p, nil
}

// lockPending prepares the placements of chunk, locks their sessions and kernels, and
// returns those whose session and kernels are all still PENDING.
func (h *Handlers) lockPending(ctx context.Context, tx pgx.Tx, snap *scheduler.Snapshot, chunk []scheduler.Placement) ([]*prepared, error) {
	preps := make([]*prepared, 0, len(chunk))
	sids := make([]uuid.UUID, 0, len(chunk))
	var kids []uuid.UUID
	for i := range chunk {
		p, err := prepare(snap, &chunk[i])
		if err != nil {
			return nil, err
		}
		preps = append(preps, p)
		sids = append(sids, p.sid)
		kids = append(kids, p.kernels...)
	}
	lockedSessions, err := lifecycle.LockSessions(ctx, tx, sids, []string{lifecycle.Pending})
	if err != nil {
		return nil, err
	}
	lockedKernels, err := db.Q.ScheduleLockKernels(ctx, tx, kids)
	if err != nil {
		return nil, fmt.Errorf("lock %d kernels: %w", len(kids), err)
	}
	pendingSession := make(map[uuid.UUID]bool, len(lockedSessions))
	for _, id := range lockedSessions {
		pendingSession[id] = true
	}
	pendingKernel := make(map[uuid.UUID]bool, len(lockedKernels))
	for _, id := range lockedKernels {
		pendingKernel[id] = true
	}
	live := preps[:0]
	for _, p := range preps {
		if !pendingSession[p.sid] || !allOf(p.kernels, pendingKernel) {
			h.Logger.Info("placed session is no longer pending; left alone", "session", p.pl.SessionID, "scaling_group", snap.ScalingGroup.Name)
			continue
		}
		live = append(live, p)
	}
	return live, nil
}

// markScheduled marks the sessions and kernels of placements SCHEDULED; every one of them
// must be locked and PENDING.
func markScheduled(ctx context.Context, tx pgx.Tx, placements []*prepared, now time.Time) error {
	iso := lifecycle.FormatTime(now)
	mk := &dbsqlc.ScheduleMarkKernelsParams{Now: now, Iso: iso}
	ms := &dbsqlc.ScheduleMarkSessionsParams{
		Now: now, Iso: iso, IDs: make([]uuid.UUID, 0, len(placements)),
		AgentIds: make([]string, 0, len(placements)), OccupyingSlots: make([]string, 0, len(placements)),
	}
	for _, p := range placements {
		for i, kid := range p.kernels {
			mk.IDs = append(mk.IDs, kid)
			mk.Agents = append(mk.Agents, p.pl.Kernels[i].AgentID)
			mk.OccupiedSlots = append(mk.OccupiedSlots, p.occupied[i])
		}
		agents, err := json.Marshal(p.agents)
		if err != nil {
			return fmt.Errorf("encode agent ids: %w", err)
		}
		ms.IDs = append(ms.IDs, p.sid)
		ms.AgentIds = append(ms.AgentIds, string(agents))
		ms.OccupyingSlots = append(ms.OccupyingSlots, p.occupying)
	}
	n, err := db.Q.ScheduleMarkKernels(ctx, tx, mk)
	if err != nil {
		return fmt.Errorf("schedule %d kernels: %w", len(mk.IDs), err)
	}
	if n != int64(len(mk.IDs)) {
		return fmt.Errorf("schedule kernels: %d of %d locked kernels changed", n, len(mk.IDs))
	}
	if n, err = db.Q.ScheduleMarkSessions(ctx, tx, ms); err != nil {
		return fmt.Errorf("schedule %d sessions: %w", len(ms.IDs), err)
	}
	if n != int64(len(ms.IDs)) {
		return fmt.Errorf("schedule sessions: %d of %d locked sessions changed", n, len(ms.IDs))
	}
	return nil
}

// fits reports whether every positive delta of p still has room in its locked agent slot.
func fits(snap *scheduler.Snapshot, p *prepared, slotsOf map[slotKey]*slotRow, amount func(int64, int) (decimal.Decimal, bool)) bool {
	for i, a := range p.agents {
		for s, v := range p.deltas[i] {
			if v <= 0 {
				continue
			}
			r := slotsOf[slotKey{a, snap.SlotNames[s]}]
			d, ok := amount(v, s)
			if r == nil || !r.readable || !ok || r.occupied.Add(d).GreaterThan(r.capacity) {
				return false
			}
		}
	}
	return true
}

// writeSkips records status_info and status_data of the skipped sessions, chunk by chunk.
func (h *Handlers) writeSkips(ctx context.Context, tx pgx.Tx, skipped []scheduler.Skip, now time.Time) error {
	for chunk := range slices.Chunk(skipped, h.writeChunk) {
		arg := &dbsqlc.ScheduleSetPendingInfoParams{
			IDs: make([]uuid.UUID, 0, len(chunk)), Infos: make([]string, 0, len(chunk)), Data: make([]string, 0, len(chunk)),
		}
		for i := range chunk {
			sk := &chunk[i]
			id, err := uuid.Parse(sk.SessionID)
			if err != nil {
				return fmt.Errorf("session id %q: %w", sk.SessionID, err)
			}
			data, err := json.Marshal(sk.StatusData(now))
			if err != nil {
				return fmt.Errorf("encode status data: %w", err)
			}
			arg.IDs = append(arg.IDs, id)
			arg.Infos = append(arg.Infos, sk.Reason)
			arg.Data = append(arg.Data, string(data))
		}
		if err := db.Q.ScheduleSetPendingInfo(ctx, tx, arg); err != nil {
			return fmt.Errorf("record skip of %d sessions: %w", len(arg.IDs), err)
		}
	}
	return nil
}

// allOf reports whether every id is in set.
func allOf(ids []uuid.UUID, set map[uuid.UUID]bool) bool {
	for _, id := range ids {
		if !set[id] {
			return false
		}
	}
	return true
}
