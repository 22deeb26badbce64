package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultLeaderTTL is the lease TTL, in seconds, used when Campaign is given ttl <= 0: a
// leader that dies without resigning is replaced after about this long.
const DefaultLeaderTTL = 10

// leaderKeyDir is where elections live, below the namespace.
const leaderKeyDir = "nodes/manager-leader/"

// Leadership is one process's participation in a leader election. It campaigns in the
// background until Resign or Close is called or the context given to Campaign ends, and
// campaigns again after losing its etcd lease.
type Leadership struct {
	etcd   *Etcd
	prefix string
	id     string
	ttl    int

	leader  atomic.Bool
	changes chan bool
	cancel  context.CancelFunc
	done    chan struct{}
	stop    sync.Once
}

// Campaign joins the election called name as candidate id and returns at once; the
// campaign runs in the background until ctx ends or the Leadership is resigned or closed.
// The election key lives under /sorna/<ns>/nodes/manager-leader/<name>/. ttl is the lease
// TTL in seconds (DefaultLeaderTTL when <= 0). It fails fast with an *UnreachableError when
// etcd does not grant a lease within PingTimeout.
func Campaign(ctx context.Context, e *Etcd, name, id string, ttl int) (*Leadership, error) {
	name = strings.Trim(name, "/")
	if name == "" {
		return nil, errors.New("leader election: empty name")
	}
	if ttl <= 0 {
		ttl = DefaultLeaderTTL
	}
	l := &Leadership{
		etcd:    e,
		prefix:  e.Key(leaderKeyDir + name),
		id:      id,
		ttl:     ttl,
		changes: make(chan bool, 1),
		done:    make(chan struct{}),
	}
	sess, sessCancel, err := l.newSession(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	go l.run(runCtx, sess, sessCancel)
	return l, nil
}

// newSession grants a lease (waiting at most PingTimeout) and keeps it alive in a session
// whose lifetime the returned cancel function ends.
func (l *Leadership) newSession(ctx context.Context) (*concurrency.Session, context.CancelFunc, error) {
	grantCtx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	lease, err := l.etcd.cli.Grant(grantCtx, int64(l.ttl))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("leader election: %w", ctx.Err())
		}
		return nil, nil, Unreachable("etcd", l.etcd.endpoint, err)
	}
	sessCtx, sessCancel := context.WithCancel(context.Background())
	sess, err := concurrency.NewSession(l.etcd.cli,
		concurrency.WithLease(lease.ID), concurrency.WithTTL(l.ttl), concurrency.WithContext(sessCtx))
	if err != nil {
		sessCancel()
		return nil, nil, fmt.Errorf("leader election: keep lease alive: %w", err)
	}
	return sess, sessCancel, nil
}

// run campaigns until ctx ends, renewing the session whenever its lease is lost.
func (l *Leadership) run(ctx context.Context, sess *concurrency.Session, sessCancel context.CancelFunc) {
	defer close(l.done)
	defer close(l.changes)
	backoff := 250 * time.Millisecond
	for {
		if sess != nil {
			l.campaign(ctx, sess)
			closeSession(sess, sessCancel)
			sess = nil
		}
		if ctx.Err() != nil {
			return
		}
		var err error
		sess, sessCancel, err = l.newSession(ctx)
		if err == nil {
			backoff = 250 * time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// campaign runs one election round on sess: wait to win, then hold leadership until ctx
// ends or the lease is lost.
func (l *Leadership) campaign(ctx context.Context, sess *concurrency.Session) {
	campCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAfter := context.AfterFunc(sess.Ctx(), cancel)
	defer stopAfter()

	el := concurrency.NewElection(sess, l.prefix)
	if err := el.Campaign(campCtx, l.id); err != nil {
		return
	}
	l.set(true)
	select {
	case <-ctx.Done():
		rctx, rcancel := context.WithTimeout(context.Background(), PingTimeout)
		_ = el.Resign(rctx)
		rcancel()
	case <-sess.Done():
	}
	l.set(false)
}

func closeSession(sess *concurrency.Session, cancel context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Close()
	}()
	select {
	case <-done:
	case <-time.After(PingTimeout):
	}
	cancel()
	<-done
}

// set records a leadership change and offers it on the changes channel, replacing any
// value the reader has not taken yet.
func (l *Leadership) set(v bool) {
	if l.leader.Swap(v) == v {
		return
	}
	select {
	case l.changes <- v:
	default:
		select {
		case <-l.changes:
		default:
		}
		l.changes <- v
	}
}

// IsLeader reports whether this candidate currently holds leadership.
func (l *Leadership) IsLeader() bool { return l.leader.Load() }

// Changes delivers leadership changes (true when elected, false when leadership is lost).
// It holds only the latest change not yet read, so a slow reader may miss intermediate
// ones; IsLeader is authoritative. The channel is closed once the campaign has stopped.
func (l *Leadership) Changes() <-chan bool { return l.changes }

// ID returns this candidate's id.
func (l *Leadership) ID() string { return l.id }

// Leader returns the id of the current leader of the election, or "" when there is none.
func (l *Leadership) Leader(ctx context.Context) (string, error) {
	resp, err := l.etcd.cli.Get(ctx, l.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("leader election: get leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// Resign steps down (if leader), leaves the election and waits until that is done or ctx
// ends. The Leadership cannot be reused afterwards.
func (l *Leadership) Resign(ctx context.Context) error {
	l.stop.Do(l.cancel)
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("leader election: resign: %w", ctx.Err())
	}
}

// Close resigns and releases the lease; it is safe to call more than once.
func (l *Leadership) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*PingTimeout)
	defer cancel()
	return l.Resign(ctx)
}
