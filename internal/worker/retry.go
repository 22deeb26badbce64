package worker

import (
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/jobs"
)

// retryDelay is the workers' asynq RetryDelayFunc: jobs.RetryDelay's short, capped and
// jittered backoff for every task, instead of asynq's default (n⁴ seconds plus jitter, 15 to
// 45 s for the first retries), which left sessions waiting half a minute after a brief
// PostgreSQL or Redis outage. n is the number of times the task was retried so far.
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	return jobs.RetryDelay(n+1, rand.Float64())
}
