package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultLeaderTTL is the lease TTL, in seconds, used when Campaign is given ttl <= 0: a
// leader that dies without resigning is replaced after at most about this long.
const DefaultLeaderTTL = 10

// leaderKeyDir is where elections live, below the namespace.
const leaderKeyDir = "nodes/manager-leader/"

// Leadership is one process's participation in a leader election. It campaigns in the
// background until Resign or Close is called or the context given to Campaign ends, and
// campaigns again after losing its etcd lease.
//
// The election is one key, /sorna/<ns>/nodes/manager-leader/<name>, written only when
// absent (a transaction on its create revision) and attached to the writer's lease: its
// holder leads. Candidates that lost watch the key and try again as soon as it is deleted.
// Candidates keep no key of their own, so a candidate that dies leaves nothing behind, and
// a leader that dies is replaced once its lease expires (at most the TTL after its last
// keep-alive), however many other candidates died meanwhile.
type Leadership struct {
	etcd *Etcd
	key  string
	id   string
	ttl  int

	leader  atomic.Bool
	changes chan bool
	cancel  context.CancelFunc
	done    chan struct{}
	stop    sync.Once
}

// Campaign joins the election called name as candidate id and returns at once; the
// campaign runs in the background until ctx ends or the Leadership is resigned or closed.
// The election key is /sorna/<ns>/nodes/manager-leader/<name>. ttl is the lease TTL in
// seconds (DefaultLeaderTTL when <= 0). It fails fast with an *UnreachableError when etcd
// does not grant a lease within PingTimeout.
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
		key:     e.Key(leaderKeyDir + name),
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

// run campaigns until ctx ends, renewing the session whenever its lease is lost or etcd
// fails.
func (l *Leadership) run(ctx context.Context, sess *concurrency.Session, sessCancel context.CancelFunc) {
	defer close(l.done)
	defer close(l.changes)
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	for {
		if sess != nil {
			if l.campaign(ctx, sess) {
				backoff = minBackoff
			}
			closeSession(sess, sessCancel)
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		var err error
		sess, sessCancel, err = l.newSession(ctx)
		if err != nil {
			sess = nil
		}
	}
}

// campaign takes part in the election on sess until ctx ends, the lease is lost or etcd
// fails: it takes the leader key when it is absent, holds it while it leads, and otherwise
// waits for it to be deleted. It reports whether etcd answered at all, for the caller's
// backoff.
func (l *Leadership) campaign(ctx context.Context, sess *concurrency.Session) (answered bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAfter := context.AfterFunc(sess.Ctx(), cancel)
	defer stopAfter()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	cli := l.etcd.cli
	for ctx.Err() == nil {
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", 0)).
			Then(clientv3.OpPut(l.key, l.id, clientv3.WithLease(sess.Lease()))).
			Else(clientv3.OpGet(l.key)).
			Commit()
		if err != nil {
			return answered
		}
		answered = true
		if resp.Succeeded {
			l.hold(ctx, sess, resp.Header.Revision, resp.Header.Revision)
			return answered
		}
		var kv *mvccpb.KeyValue
		if r := resp.Responses[0].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
			kv = r.Kvs[0]
		}
		switch {
		case kv == nil:
			continue // deleted between the compare and the get: try again
		case clientv3.LeaseID(kv.Lease) == sess.Lease():
			// Ours already: an earlier attempt was applied but its answer lost.
			l.hold(ctx, sess, kv.CreateRevision, resp.Header.Revision)
			return answered
		}
		if !l.waitDeleted(ctx, resp.Header.Revision) {
			return answered
		}
	}
	return answered
}

// waitDeleted watches the leader key from after revision rev until it is deleted (true) or
// ctx ends or the watch fails (false).
func (l *Leadership) waitDeleted(ctx context.Context, rev int64) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range l.etcd.cli.Watch(wctx, l.key, clientv3.WithRev(rev+1)) {
		if wr.Err() != nil {
			return false
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return true
			}
		}
	}
	return false
}

// hold leads while the leader key written at revision created stays in place: until ctx
// ends (then it deletes the key, so that another candidate takes over at once), or the key
// is deleted or replaced, or the lease is lost.
func (l *Leadership) hold(ctx context.Context, sess *concurrency.Session, created, rev int64) {
	l.set(true)
	defer l.set(false)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range l.etcd.cli.Watch(wctx, l.key, clientv3.WithRev(rev+1)) {
		if wr.Err() != nil {
			break
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE || ev.Kv.CreateRevision != created {
				return // deleted (lease revoked, key removed by hand) or replaced
			}
		}
	}
	if ctx.Err() != nil && sess.Ctx().Err() == nil {
		select {
		case <-sess.Done():
			return // the lease is gone, and with it the key
		default:
		}
		rctx, rcancel := context.WithTimeout(context.Background(), PingTimeout)
		defer rcancel()
		_, _ = l.etcd.cli.Txn(rctx).
			If(clientv3.Compare(clientv3.CreateRevision(l.key), "=", created)).
			Then(clientv3.OpDelete(l.key)).
			Commit()
	}
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
	resp, err := l.etcd.cli.Get(ctx, l.key)
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
