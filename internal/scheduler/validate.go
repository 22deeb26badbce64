package scheduler

import (
	"errors"
	"fmt"
)

// Validate checks the shape of the snapshot: unique slot names, every vector as long as
// SlotNames with no negative amount (nor Unlimited outside limits), unique agent and session
// IDs, at least one kernel per session, a keypair policy for every pending session's access
// key, and known algorithm, strategy and cluster mode names. Schedule calls it first.
func (s *Snapshot) Validate() error {
	n := len(s.SlotNames)
	seen := make(map[string]bool, n)
	for _, name := range s.SlotNames {
		if name == "" {
			return errors.New("empty slot name")
		}
		if seen[name] {
			return fmt.Errorf("duplicate slot name %q", name)
		}
		seen[name] = true
	}
	switch s.ScalingGroup.Scheduler {
	case "", FIFO, LIFO, DRF:
	default:
		return fmt.Errorf("scaling group %q: unknown scheduler %q", s.ScalingGroup.Name, s.ScalingGroup.Scheduler)
	}
	switch s.ScalingGroup.AgentSelectionStrategy {
	case "", Dispersed, Concentrated, Legacy:
	default:
		return fmt.Errorf("scaling group %q: unknown agent selection strategy %q",
			s.ScalingGroup.Name, s.ScalingGroup.AgentSelectionStrategy)
	}
	agentIDs := make(map[string]bool, len(s.Agents))
	for i := range s.Agents {
		a := &s.Agents[i]
		if agentIDs[a.ID] {
			return fmt.Errorf("duplicate agent %q", a.ID)
		}
		agentIDs[a.ID] = true
		if err := checkVector(a.Capacity, n, false, false); err != nil {
			return fmt.Errorf("agent %q capacity: %w", a.ID, err)
		}
		if err := checkVector(a.Occupied, n, true, false); err != nil {
			return fmt.Errorf("agent %q occupied: %w", a.ID, err)
		}
	}
	sessionIDs := make(map[string]bool, len(s.Pending))
	for i := range s.Pending {
		if err := s.validateSession(&s.Pending[i], n); err != nil {
			return err
		}
		if sessionIDs[s.Pending[i].ID] {
			return fmt.Errorf("duplicate session %q", s.Pending[i].ID)
		}
		sessionIDs[s.Pending[i].ID] = true
	}
	return s.validateUsageAndLimits(n)
}

func (s *Snapshot) validateSession(ss *Session, n int) error {
	if len(ss.Kernels) == 0 {
		return fmt.Errorf("session %q has no kernel", ss.ID)
	}
	switch ss.ClusterMode {
	case "", SingleNode, MultiNode:
	default:
		return fmt.Errorf("session %q: unknown cluster mode %q", ss.ID, ss.ClusterMode)
	}
	if err := checkVector(ss.Requested, n, true, false); err != nil {
		return fmt.Errorf("session %q requested: %w", ss.ID, err)
	}
	for _, k := range ss.Kernels {
		if err := checkVector(k.Requested, n, false, false); err != nil {
			return fmt.Errorf("session %q kernel %q requested: %w", ss.ID, k.ID, err)
		}
	}
	if _, ok := s.Limits.Keypairs[ss.AccessKey]; !ok {
		return fmt.Errorf("session %q: no keypair policy for access key %q", ss.ID, ss.AccessKey)
	}
	return nil
}

func (s *Snapshot) validateUsageAndLimits(n int) error {
	for ak, u := range s.Usage.Keypairs {
		for what, v := range map[string][]int64{"occupied": u.Occupied, "group occupied": u.GroupOccupied, "pending": u.PendingSlots} {
			if err := checkVector(v, n, true, false); err != nil {
				return fmt.Errorf("usage of access key %q, %s: %w", ak, what, err)
			}
		}
	}
	for kind, m := range map[string]map[string][]int64{"user": s.Usage.Users, "project": s.Usage.Projects, "domain": s.Usage.Domains} {
		for id, v := range m {
			if err := checkVector(v, n, true, false); err != nil {
				return fmt.Errorf("usage of %s %q: %w", kind, id, err)
			}
		}
	}
	for ak, p := range s.Limits.Keypairs {
		if err := checkVector(p.TotalSlots, n, true, true); err != nil {
			return fmt.Errorf("policy of access key %q, total slots: %w", ak, err)
		}
		if err := checkVector(p.MaxPendingSessionResourceSlots, n, true, true); err != nil {
			return fmt.Errorf("policy of access key %q, pending slots: %w", ak, err)
		}
	}
	for kind, m := range map[string]map[string][]int64{"user": s.Limits.Users, "project": s.Limits.Projects, "domain": s.Limits.Domains} {
		for id, v := range m {
			if err := checkVector(v, n, true, true); err != nil {
				return fmt.Errorf("limit of %s %q: %w", kind, id, err)
			}
		}
	}
	return nil
}

// checkVector checks a vector's length and amounts.
func checkVector(v []int64, n int, nilOK, unlimitedOK bool) error {
	if v == nil && nilOK {
		return nil
	}
	if len(v) != n {
		return fmt.Errorf("%d amounts for %d slots", len(v), n)
	}
	for i, x := range v {
		if x < 0 {
			return fmt.Errorf("negative amount %d at slot %d", x, i)
		}
		if x == Unlimited && !unlimitedOK {
			return fmt.Errorf("unlimited amount at slot %d", i)
		}
	}
	return nil
}
