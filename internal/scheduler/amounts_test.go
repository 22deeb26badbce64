package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, typ string
		want    int64
	}{
		{"1", scheduler.SlotTypeCount, 1000},
		{"0.5", scheduler.SlotTypeCount, 500},
		{"2.125", scheduler.SlotTypeCount, 2125},
		{"0.0005", scheduler.SlotTypeCount, 0}, // three places, rounded half to even
		{"0.0015", scheduler.SlotTypeCount, 2},
		{"1", scheduler.SlotTypeUnique, 1000},
		{"4294967296", scheduler.SlotTypeBytes, 4 << 30},
		{"1.9", scheduler.SlotTypeBytes, 1},
		{" 3 ", scheduler.SlotTypeBytes, 3},
		{"Infinity", scheduler.SlotTypeBytes, scheduler.Unlimited},
		{"inf", scheduler.SlotTypeCount, scheduler.Unlimited},
		{"0", scheduler.SlotTypeCount, 0},
	} {
		got, err := scheduler.ParseAmount(tc.in, tc.typ)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, in := range []string{"", "-1", "abc", "1g", "99999999999999999999"} {
		_, err := scheduler.ParseAmount(in, scheduler.SlotTypeCount)
		require.Error(t, err, "%q", in)
	}
}

func TestFormatAmount(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1.5", scheduler.FormatAmount(1500, scheduler.SlotTypeCount))
	require.Equal(t, "2", scheduler.FormatAmount(2000, scheduler.SlotTypeCount))
	require.Equal(t, "0.001", scheduler.FormatAmount(1, scheduler.SlotTypeCount))
	require.Equal(t, "0", scheduler.FormatAmount(0, scheduler.SlotTypeCount))
	require.Equal(t, "1073741824", scheduler.FormatAmount(1<<30, scheduler.SlotTypeBytes))
	require.Equal(t, "Infinity", scheduler.FormatAmount(scheduler.Unlimited, scheduler.SlotTypeBytes))
}

func TestParseAndFormatSlots(t *testing.T) {
	t.Parallel()
	names := slotNames()
	types := map[string]string{"cpu": scheduler.SlotTypeCount, "cuda.shares": scheduler.SlotTypeCount} // mem guessed
	v, err := scheduler.ParseSlots(names, types, map[string]string{"cpu": "2", "mem": "1073741824"})
	require.NoError(t, err)
	require.Equal(t, vec(2, 1, 0), v)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1073741824", "cuda.shares": "0"},
		scheduler.FormatSlots(names, types, v))

	_, err = scheduler.ParseSlots(names, types, map[string]string{"tpu": "1"})
	require.ErrorIs(t, err, scheduler.ErrUnknownSlot)
	_, err = scheduler.ParseSlots(names, types, map[string]string{"cpu": "x"})
	require.ErrorContains(t, err, `slot "cpu"`)

	limited, err := scheduler.PolicySlots(names, types, map[string]string{"cpu": "4", "tpu": "1"}, false)
	require.NoError(t, err)
	require.Equal(t, vec(4, 0, 0), limited)
	unlimited, err := scheduler.PolicySlots(names, types, map[string]string{"cpu": "4", "mem": "Infinity"}, true)
	require.NoError(t, err)
	require.Equal(t, []int64{4000, scheduler.Unlimited, scheduler.Unlimited}, unlimited)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		breakIt func(s *scheduler.Snapshot)
		err     string
	}{
		{"duplicate slot", func(s *scheduler.Snapshot) { s.SlotNames[2] = "cpu" }, `duplicate slot name "cpu"`},
		{"unknown scheduler", func(s *scheduler.Snapshot) { s.ScalingGroup.Scheduler = "mof" }, `unknown scheduler "mof"`},
		{"unknown strategy", func(s *scheduler.Snapshot) { s.ScalingGroup.AgentSelectionStrategy = "x" }, "unknown agent selection strategy"},
		{"short capacity", func(s *scheduler.Snapshot) { s.Agents[0].Capacity = []int64{1} }, `agent "i-1" capacity: 1 amounts for 3 slots`},
		{"unlimited capacity", func(s *scheduler.Snapshot) { s.Agents[0].Capacity[0] = scheduler.Unlimited }, "unlimited amount"},
		{"negative occupancy", func(s *scheduler.Snapshot) { s.Agents[0].Occupied = []int64{-1, 0, 0} }, "negative amount"},
		{"duplicate agent", func(s *scheduler.Snapshot) { s.Agents = append(s.Agents, s.Agents[0]) }, `duplicate agent "i-1"`},
		{"duplicate session", func(s *scheduler.Snapshot) { s.Pending = append(s.Pending, s.Pending[0]) }, `duplicate session "s1"`},
		{"no kernel", func(s *scheduler.Snapshot) { s.Pending[0].Kernels = nil }, `session "s1" has no kernel`},
		{"bad cluster mode", func(s *scheduler.Snapshot) { s.Pending[0].ClusterMode = "x" }, "unknown cluster mode"},
		{"short kernel request", func(s *scheduler.Snapshot) { s.Pending[0].Kernels[0].Requested = nil }, `kernel "s1-k0" requested`},
		{"no policy", func(s *scheduler.Snapshot) { delete(s.Limits.Keypairs, "AK1") }, `no keypair policy for access key "AK1"`},
		{"short usage", func(s *scheduler.Snapshot) {
			s.Usage.Keypairs["AK1"] = scheduler.KeypairUsage{Occupied: []int64{1}}
		}, `usage of access key "AK1", occupied`},
		{"short project limit", func(s *scheduler.Snapshot) {
			s.Limits.Projects = map[string][]int64{"p": {1}}
		}, `limit of project "p"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0))}
			add(s, session("s1", "AK1", 1, vec(1, 1, 0)))
			require.NoError(t, s.Validate())
			tc.breakIt(s)
			_, err := scheduler.Schedule(s)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestSkipStatusData(t *testing.T) {
	t.Parallel()
	skip := scheduler.Skip{
		SessionID: "s1", Reason: scheduler.StatusPredicateChecksFailed, Retries: 3,
		FailedPredicates: []scheduler.PredicateResult{{Name: "concurrency", Msg: "no"}},
		PassedPredicates: []string{"reserved_time"},
	}
	require.Equal(t, map[string]any{"scheduler": map[string]any{
		"retries":           3,
		"last_try":          "2024-03-15T09:00:00.000250+00:00",
		"failed_predicates": []map[string]any{{"name": "concurrency", "msg": "no"}},
		"passed_predicates": []map[string]any{{"name": "reserved_time"}},
	}}, skip.StatusData(t0.Add(250*time.Microsecond)))

	skip = scheduler.Skip{Reason: scheduler.StatusNoAvailableInstances, Retries: 1, Msg: "none"}
	data := skip.StatusData(t0.In(time.FixedZone("KST", 9*3600)))
	require.Equal(t, "2024-03-15T09:00:00+00:00", data["scheduler"].(map[string]any)["last_try"])
	require.Equal(t, "none", data["scheduler"].(map[string]any)["msg"])
}

func TestParseSlotsRefusesGarbage(t *testing.T) {
	t.Parallel()
	names := slotNames()
	types := map[string]string{"cpu": scheduler.SlotTypeCount, "mem": scheduler.SlotTypeBytes}
	for _, bad := range []string{"1e400", "1e308", "NaN", "-0", "Infinity", "1e13", "9p"} {
		_, err := scheduler.ParseSlots(names, types, map[string]string{"cpu": bad, "mem": bad})
		require.Error(t, err, bad)
	}
	// Policies may be unlimited, but not out of range.
	_, err := scheduler.PolicySlots(names, types, map[string]string{"cpu": "1e400"}, false)
	require.Error(t, err)
	v, err := scheduler.PolicySlots(names, types, map[string]string{"cpu": "Infinity", "mem": "8p"}, false)
	require.NoError(t, err)
	require.Equal(t, []int64{scheduler.Unlimited, 1 << 53, 0}, v)
}
