package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// newTask encodes payload as JSON and returns a task of type typ carrying the type's
// default options (DefaultsOf) followed by opts, which win over the defaults.
func newTask(typ string, payload any, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	d := DefaultsOf(typ)
	all := make([]asynq.Option, 0, 3+len(opts))
	all = append(all, asynq.Queue(d.Queue), asynq.MaxRetry(d.MaxRetry), asynq.Timeout(d.Timeout))
	all = append(all, opts...)
	return asynq.NewTask(typ, b, all...), nil
}

// Decode decodes the JSON payload of t into v. A payload that does not decode can never be
// processed, so the error wraps asynq.SkipRetry and the task is archived at once instead of
// being retried.
func Decode(t *asynq.Task, v any) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}

// Invalid returns an error for a payload that decoded but cannot be processed (a required
// field is missing, say). Like Decode's errors it wraps asynq.SkipRetry.
func Invalid(t *asynq.Task, reason string) error {
	return fmt.Errorf("invalid %s payload: %s: %w", t.Type(), reason, asynq.SkipRetry)
}

// Enqueuer enqueues tasks into the queues of one queue prefix. Both the API and the workers
// enqueue through it, so that a prefix chosen for a test or a deployment applies everywhere.
// It is safe for concurrent use.
type Enqueuer struct {
	client *asynq.Client
	prefix string
}

// NewEnqueuer returns an Enqueuer that sends tasks through client into the queues named
// with prefix. The caller keeps ownership of client.
func NewEnqueuer(client *asynq.Client, prefix string) *Enqueuer {
	return &Enqueuer{client: client, prefix: prefix}
}

// Prefix returns the queue prefix.
func (e *Enqueuer) Prefix() string { return e.prefix }

// Enqueue enqueues t with opts after its own options. The queue is the one opts name, else
// the task type's default queue (DefaultsOf), with the prefix applied. A TaskID that is
// already taken yields an error that matches asynq.ErrTaskIDConflict, which callers
// usually treat as "already queued".
func (e *Enqueuer) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	queue := DefaultsOf(t.Type()).Queue
	all := make([]asynq.Option, 0, len(opts)+1)
	for _, o := range opts {
		if o.Type() == asynq.QueueOpt {
			if q, ok := o.Value().(string); ok {
				queue = q
			}
			continue
		}
		all = append(all, o)
	}
	all = append(all, asynq.Queue(QueueName(e.prefix, queue)))
	info, err := e.client.EnqueueContext(ctx, t, all...)
	if err != nil {
		return nil, fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return info, nil
}

// IsDuplicate reports whether err from Enqueue means the task is already queued (its
// TaskID is taken, or a Unique lock holds).
func IsDuplicate(err error) bool {
	return errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask)
}
