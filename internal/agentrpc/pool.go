package agentrpc

import (
	"errors"
	"sync"
)

// Pool keeps one [Client] per agent address for the manager. It is safe for concurrent use.
type Pool struct {
	opts ClientOptions

	mu      sync.Mutex
	clients map[string]*Client
	closed  bool
}

// NewPool returns an empty pool whose clients are dialled with opts.
func NewPool(opts ClientOptions) *Pool {
	return &Pool{opts: opts, clients: make(map[string]*Client)}
}

// Get returns the client for addr, dialling it on first use (dialling does not wait for a
// connection). "host:port" and "tcp://host:port" name the same client. A client that was
// closed behind the pool's back is replaced.
func (p *Pool) Get(addr string) (*Client, error) {
	key, err := normalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if c := p.clients[key]; c != nil && !c.isClosed() {
		return c, nil
	}
	c, err := Dial(key, p.opts)
	if err != nil {
		return nil, err
	}
	p.clients[key] = c
	return c, nil
}

// Forget closes and removes the client for addr, if any: for an agent that left or changed
// its address. Calls in flight on that client fail with [ErrClosed]; the next Get dials anew.
func (p *Pool) Forget(addr string) error {
	key, err := normalizeAddr(addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	c := p.clients[key]
	delete(p.clients, key)
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

// Len returns the number of cached clients.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// Close closes every client; later calls to Get fail with [ErrClosed].
func (p *Pool) Close() error {
	p.mu.Lock()
	clients := p.clients
	p.clients = make(map[string]*Client)
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
