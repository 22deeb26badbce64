package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Simulation is a set of dummy agents run in one process, for scale tests.
type Simulation struct {
	agents []*Agent
	tick   <-chan time.Time
	ticks  []chan time.Time
}

// Simulate binds n agents with dummy runtimes, derived from cfg: agent k (1..n) has the id
// "<id>-sim-<k>" and listens on the listen port + k − 1, or on an ephemeral port when the
// listen port is 0. They share enq and opts; a set opts.Tick is fanned out to all of them.
// Run runs them; Close releases agents that never ran.
func Simulate(cfg *Config, n int, enq Enqueuer, opts Options) (*Simulation, error) {
	if n <= 0 {
		return nil, fmt.Errorf("simulate: want at least one agent, got %d", n)
	}
	s := &Simulation{tick: opts.Tick}
	for k := 1; k <= n; k++ {
		c := *cfg
		c.Agent.ID = fmt.Sprintf("%s-sim-%d", cfg.Agent.ID, k)
		if len(c.Agent.ID) > 64 {
			_ = s.Close()
			return nil, fmt.Errorf("simulate: agent id %q is longer than 64 characters", c.Agent.ID)
		}
		if cfg.Agent.RPCListenAddr.Port != 0 {
			c.Agent.RPCListenAddr.Port = cfg.Agent.RPCListenAddr.Port + k - 1
		}
		if !cfg.Agent.AdvertisedRPCAddr.IsZero() && cfg.Agent.AdvertisedRPCAddr.Port != 0 {
			c.Agent.AdvertisedRPCAddr.Port = cfg.Agent.AdvertisedRPCAddr.Port + k - 1
		}
		o := opts
		if opts.Tick != nil {
			ch := make(chan time.Time, 1)
			s.ticks = append(s.ticks, ch)
			o.Tick = ch
		}
		a, err := New(&c, NewDummyRuntime(opts.Now), enq, o)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("simulate: %w", err)
		}
		s.agents = append(s.agents, a)
	}
	return s, nil
}

// Agents returns the simulated agents.
func (s *Simulation) Agents() []*Agent { return s.agents }

// Run runs every agent until ctx ends and returns their errors joined.
func (s *Simulation) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.agents))
	for i, a := range s.agents {
		wg.Go(func() { errs[i] = a.Run(ctx) })
	}
	if s.tick != nil {
		wg.Go(func() { s.fanOut(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fanOut hands every tick to every agent; an agent still busy with the previous tick
// misses it.
func (s *Simulation) fanOut(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t, ok := <-s.tick:
			if !ok {
				return
			}
			for _, ch := range s.ticks {
				select {
				case ch <- t:
				default:
				}
			}
		}
	}
}

// Close releases the agents' RPC servers (of agents that never ran).
func (s *Simulation) Close() error {
	var errs []error
	for _, a := range s.agents {
		errs = append(errs, a.Close())
	}
	return errors.Join(errs...)
}
