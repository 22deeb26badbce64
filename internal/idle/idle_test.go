package idle_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/idle"
)

// mapSource is a Source over flat keys, nesting GetPrefix like the shared config does.
type mapSource map[string]string

func (m mapSource) Get(key string) (string, bool) { v, ok := m[key]; return v, ok }

func (m mapSource) Duration(key string, def time.Duration) time.Duration {
	v, ok := m[key]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return def
	}
	return d
}

func (m mapSource) GetPrefix(prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, prefix+"/")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		node := out
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		node[parts[len(parts)-1]] = v
	}
	return out
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func tp(t time.Time) *time.Time { return &t }

func TestLoad(t *testing.T) {
	t.Parallel()
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, warnings := idle.Load(nil)
		require.Empty(t, warnings)
		require.Equal(t, idle.Default(), cfg)
		require.Equal(t, []string{idle.SessionLifetime}, cfg.Enabled())
	})
	t.Run("TimeoutAliasAndKeys", func(t *testing.T) {
		t.Parallel()
		cfg, warnings := idle.Load(mapSource{
			idle.KeyEnabled:                                                         "timeout, utilization,bogus",
			"config/idle/checkers/timeout/threshold":                                "3m",
			"config/idle/checkers/utilization/time-window":                          "2m",
			"config/idle/checkers/utilization/initial-grace-period":                 "1m",
			"config/idle/checkers/utilization/thresholds-check-operator":            "OR",
			"config/idle/checkers/utilization/resource-thresholds/cpu_util/average": "30",
			"config/idle/checkers/utilization/resource-thresholds/mem/average":      "null",
			"config/idle/checkers/user_grace_period/user_initial_grace_period":      "1h",
		})
		require.Equal(t, []string{`config/idle/enabled: unknown idle checker "bogus" ignored`}, warnings)
		require.True(t, cfg.NetworkTimeout)
		require.True(t, cfg.Utilization)
		require.Equal(t, []string{idle.SessionLifetime, idle.NetworkTimeout, idle.Utilization}, cfg.Enabled())
		require.Equal(t, 3*time.Minute, cfg.Threshold)
		require.Equal(t, 2*time.Minute, cfg.TimeWindow)
		require.Equal(t, time.Minute, cfg.InitialGracePeriod)
		require.Equal(t, idle.OperatorOr, cfg.Operator)
		require.Equal(t, map[string]float64{"cpu_util": 30}, cfg.Thresholds)
		require.Equal(t, time.Hour, cfg.UserInitialGracePeriod)
	})
	t.Run("NetworkTimeoutKeyWins", func(t *testing.T) {
		t.Parallel()
		cfg, _ := idle.Load(mapSource{
			idle.KeyEnabled:                                  "network_timeout",
			"config/idle/checkers/timeout/threshold":         "3m",
			"config/idle/checkers/network_timeout/threshold": "4m",
		})
		require.True(t, cfg.NetworkTimeout)
		require.Equal(t, 4*time.Minute, cfg.Threshold)
	})
	t.Run("ThresholdsAsJSON", func(t *testing.T) {
		t.Parallel()
		cfg, warnings := idle.Load(mapSource{
			"config/idle/checkers/utilization/resource-thresholds":       `{"cpu_util": {"average": 10}, "cuda_util": {"average": null}, "mem": {"average": "25.5"}}`,
			"config/idle/checkers/utilization/thresholds-check-operator": "xor",
		})
		require.Len(t, warnings, 1)
		require.Equal(t, idle.OperatorAnd, cfg.Operator)
		require.Equal(t, map[string]float64{"cpu_util": 10, "mem": 25.5}, cfg.Thresholds)
	})
}

func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	cfg := idle.Default()
	s := idle.Session{Type: "INTERACTIVE", CreatedAt: t0, RunningSince: at(time.Second)}
	cases := []struct {
		name      string
		lifetime  int64
		now       time.Time
		remaining *float64
		expired   bool
	}{
		{"Off", 0, at(100 * time.Hour), nil, false},
		{"Running", 600, at(100 * time.Second), ptr(500.0), false},
		{"ExpiresAtTheLimit", 600, at(600 * time.Second), ptr(-1.0), true},
		{"Expired", 600, at(time.Hour), ptr(-1.0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := idle.Check(cfg, s, idle.Policy{MaxSessionLifetime: c.lifetime, IdleTimeout: -1}, c.now)
			r := res.Reports[idle.SessionLifetime]
			require.Equal(t, c.remaining, r.Remaining)
			require.Equal(t, idle.ExpireAfter, r.RemainingTimeType)
			require.Nil(t, r.Extra)
			if c.expired {
				require.Equal(t, idle.SessionLifetime, res.Expired)
				require.Equal(t, idle.ReasonSessionLifetime, res.Reason)
			} else {
				require.Empty(t, res.Expired)
			}
			require.Len(t, res.Reports, 1, "only session_lifetime is enabled by default")
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNetworkTimeout(t *testing.T) {
	t.Parallel()
	cfg := idle.Default()
	cfg.NetworkTimeout = true
	cfg.Threshold = 10 * time.Minute
	base := idle.Session{Type: "INTERACTIVE", CreatedAt: t0, RunningSince: at(10 * time.Second), UserCreatedAt: t0.Add(-24 * time.Hour)}
	deferring := idle.Policy{IdleTimeout: -1}
	cases := []struct {
		name      string
		cfg       func(c *idle.Config)
		session   func(s *idle.Session)
		policy    idle.Policy
		now       time.Time
		remaining *float64
		typ       string
		expired   bool
	}{
		{name: "CountsFromRunningWithoutAccess", policy: deferring, now: at(5 * time.Minute),
			remaining: ptr(310.0), typ: idle.ExpireAfter},
		{name: "ExpiredWithoutAccess", policy: deferring, now: at(10*time.Minute + 11*time.Second),
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
		{name: "NotExpiredExactlyAtTheTimeout", policy: deferring, now: at(10*time.Minute + 10*time.Second),
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "AccessPushesExpiry", policy: deferring, now: at(15 * time.Minute),
			session:   func(s *idle.Session) { s.LastAccess = tp(at(14 * time.Minute)) },
			remaining: ptr(540.0), typ: idle.ExpireAfter},
		{name: "OldAccessBeforeRunningIgnored", policy: deferring, now: at(5 * time.Minute),
			session:   func(s *idle.Session) { s.LastAccess = tp(t0.Add(-time.Hour)) },
			remaining: ptr(310.0), typ: idle.ExpireAfter},
		{name: "PolicyOverridesThreshold", policy: idle.Policy{IdleTimeout: 60}, now: at(71 * time.Second),
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
		{name: "PolicyZeroMeansNever", policy: idle.Policy{IdleTimeout: 0}, now: at(1000 * time.Hour),
			typ: idle.ExpireAfter},
		{name: "BatchNeverIdle", policy: deferring, now: at(1000 * time.Hour),
			session: func(s *idle.Session) { s.Type = idle.TypeBatch }, typ: idle.ExpireAfter},
		{name: "UserGracePeriod", policy: deferring, now: at(30 * time.Minute),
			cfg:       func(c *idle.Config) { c.UserInitialGracePeriod = time.Hour },
			session:   func(s *idle.Session) { s.UserCreatedAt = t0 },
			remaining: ptr(float64((30*time.Minute + 10*time.Minute) / time.Second)), typ: idle.GracePeriod},
		{name: "AfterUserGracePeriod", policy: deferring, now: at(71 * time.Minute),
			cfg:       func(c *idle.Config) { c.UserInitialGracePeriod = time.Hour },
			session:   func(s *idle.Session) { s.UserCreatedAt = t0 },
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cf, s := cfg, base
			if c.cfg != nil {
				c.cfg(&cf)
			}
			if c.session != nil {
				c.session(&s)
			}
			res := idle.Check(cf, s, c.policy, c.now)
			r := res.Reports[idle.NetworkTimeout]
			require.Equal(t, c.remaining, r.Remaining)
			require.Equal(t, c.typ, r.RemainingTimeType)
			if c.expired {
				require.Equal(t, idle.NetworkTimeout, res.Expired)
				require.Equal(t, idle.ReasonTimeout, res.Reason)
			} else {
				require.Empty(t, res.Expired)
			}
		})
	}
}

func TestUtilization(t *testing.T) {
	t.Parallel()
	cfg := idle.Default()
	cfg.Utilization = true
	cfg.TimeWindow = 10 * time.Minute
	cfg.InitialGracePeriod = 5 * time.Minute
	cfg.Thresholds = map[string]float64{"cpu_util": 20, "mem": 30, "cuda_util": 10}
	slots := map[string]string{"cpu": "1", "mem": "1073741824"}
	deferring := idle.Policy{IdleTimeout: -1}
	judging := at(16 * time.Minute) // after 5 m grace + 10 m window
	cases := []struct {
		name      string
		cfg       func(c *idle.Config)
		policy    idle.Policy
		slots     map[string]string
		util      map[string]float64
		now       time.Time
		remaining *float64
		typ       string
		expired   bool
		resources map[string][2]*float64
	}{
		{name: "InGracePeriod", policy: deferring, now: at(time.Minute), util: map[string]float64{"cpu_util": 0, "mem": 0},
			remaining: ptr(840.0), typ: idle.GracePeriod},
		{name: "InFirstWindow", policy: deferring, now: at(10 * time.Minute), util: map[string]float64{"cpu_util": 0, "mem": 0},
			remaining: ptr(300.0), typ: idle.ExpireAfter},
		{name: "AndAllLowExpires", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 1, "mem": 2},
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true,
			resources: map[string][2]*float64{"cpu_util": {ptr(1.0), ptr(20.0)}, "mem": {ptr(2.0), ptr(30.0)}}},
		{name: "AndOneBusyKeeps", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 50, "mem": 2},
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "OrOneLowExpires", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 50, "mem": 2},
			cfg:       func(c *idle.Config) { c.Operator = idle.OperatorOr },
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
		{name: "OrAllBusyKeeps", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 50, "mem": 40},
			cfg:       func(c *idle.Config) { c.Operator = idle.OperatorOr },
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "ThresholdReachedIsBusy", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 20, "mem": 30},
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "NoSamplesNeverIdle", policy: deferring, now: judging,
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "MissingMetricNotJudged", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 1},
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true,
			resources: map[string][2]*float64{"cpu_util": {ptr(1.0), ptr(20.0)}, "mem": {nil, ptr(30.0)}}},
		{name: "GPUMetricJudgedWithGPUSlot", policy: deferring, now: judging,
			slots:     map[string]string{"cpu": "1", "mem": "1", "cuda.shares": "0.5"},
			util:      map[string]float64{"cpu_util": 1, "mem": 1, "cuda_util": 90},
			remaining: ptr(0.0), typ: idle.ExpireAfter},
		{name: "GPUMetricIgnoredWithoutGPUSlot", policy: deferring, now: judging,
			slots:     map[string]string{"cpu": "1", "mem": "1", "cuda.shares": "0"},
			util:      map[string]float64{"cpu_util": 1, "mem": 1, "cuda_util": 90},
			remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
		{name: "PolicyWindow", policy: idle.Policy{IdleTimeout: 60}, now: at(6*time.Minute + time.Second),
			util: map[string]float64{"cpu_util": 1, "mem": 1}, remaining: ptr(-1.0), typ: idle.ExpireAfter, expired: true},
		{name: "PolicyZeroNever", policy: idle.Policy{IdleTimeout: 0}, now: at(100 * time.Hour),
			util: map[string]float64{"cpu_util": 0, "mem": 0}, typ: idle.ExpireAfter},
		{name: "UserGracePeriodDelays", policy: deferring, now: judging, util: map[string]float64{"cpu_util": 0, "mem": 0},
			cfg:       func(c *idle.Config) { c.UserInitialGracePeriod = time.Hour },
			remaining: ptr(float64((60 + 5 + 10 - 16) * 60)), typ: idle.GracePeriod},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cf := cfg
			if c.cfg != nil {
				c.cfg(&cf)
			}
			s := idle.Session{Type: "INTERACTIVE", CreatedAt: t0, RunningSince: at(time.Second), UserCreatedAt: t0,
				Slots: slots, Utilization: c.util}
			if c.slots != nil {
				s.Slots = c.slots
			}
			res := idle.Check(cf, s, c.policy, c.now)
			r := res.Reports[idle.Utilization]
			require.Equal(t, c.remaining, r.Remaining)
			require.Equal(t, c.typ, r.RemainingTimeType)
			require.NotNil(t, r.Extra)
			require.Equal(t, cf.Operator, r.Extra.Operator)
			if c.resources != nil {
				require.Equal(t, c.resources, r.Extra.Resources)
			}
			if c.expired {
				require.Equal(t, idle.Utilization, res.Expired)
				require.Equal(t, idle.ReasonUtilization, res.Reason)
			} else {
				require.Empty(t, res.Expired)
			}
		})
	}
}

func TestCheckOrderAndInference(t *testing.T) {
	t.Parallel()
	cfg := idle.Default()
	cfg.NetworkTimeout, cfg.Utilization = true, true
	s := idle.Session{Type: "INTERACTIVE", CreatedAt: t0, RunningSince: t0}
	p := idle.Policy{IdleTimeout: 60, MaxSessionLifetime: 60}
	res := idle.Check(cfg, s, p, at(time.Hour))
	require.Equal(t, idle.SessionLifetime, res.Expired, "session_lifetime is checked first")
	require.Len(t, res.Reports, 3)

	s.Type = idle.TypeInference
	res = idle.Check(cfg, s, p, at(time.Hour))
	require.Empty(t, res.Expired)
	for _, r := range res.Reports {
		require.Nil(t, r.Remaining)
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	cfg := idle.Default()
	cfg.Utilization = true
	cfg.Thresholds = map[string]float64{"cpu_util": 10}
	s := idle.Session{Type: "INTERACTIVE", CreatedAt: t0, RunningSince: t0, Slots: map[string]string{"cpu": "1"},
		Utilization: map[string]float64{"cpu_util": 2.5}}
	res := idle.Check(cfg, s, idle.Policy{IdleTimeout: -1}, at(time.Minute))
	b, err := json.Marshal(res.Reports)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"session_lifetime": {"remaining": null, "remaining_time_type": "expire_after", "extra": null},
		"utilization": {"remaining": 840, "remaining_time_type": "grace_period",
			"extra": {"thresholds_check_operator": "and", "resources": {"cpu_util": [2.5, 10]}}}
	}`, string(b))
}
