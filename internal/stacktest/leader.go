package stacktest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// workerElectionKey is the etcd key (below the namespace) the workers' leader holds: its
// value is the leader's id, "<manager id>-worker-<pid>".
const workerElectionKey = "nodes/manager-leader/worker"

// LeaderWorker returns the index in Workers of the running worker that holds the workers'
// leadership, or -1 when none does (no leader, or a leader that is no longer running).
func (s *Stack) LeaderWorker(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, ok, err := s.Etcd.Get(ctx, workerElectionKey)
	require.NoError(t, err)
	if !ok {
		return -1
	}
	pid, err := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	if err != nil {
		return -1
	}
	for i, w := range s.Workers {
		if exited, _ := w.Exited(); !exited && w.Cmd.Process.Pid == pid {
			return i
		}
	}
	return -1
}
