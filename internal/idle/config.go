package idle

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Checker names, as they appear in config/idle/enabled and in reports.
const (
	NetworkTimeout  = "network_timeout"
	SessionLifetime = "session_lifetime"
	Utilization     = "utilization"
	// timeoutAlias is the older name of NetworkTimeout, accepted in the configuration.
	timeoutAlias = "timeout"
)

// Shared-config keys (below the namespace).
const (
	// KeyEnabled is the comma-separated list of enabled checkers besides session_lifetime.
	KeyEnabled = "config/idle/enabled"
	// KeyCheckers is the prefix of the per-checker settings: <KeyCheckers>/<checker>/<key>.
	KeyCheckers = "config/idle/checkers"
)

// Defaults of the checker settings.
const (
	DefaultThreshold          = 10 * time.Minute
	DefaultTimeWindow         = 10 * time.Minute
	DefaultInitialGracePeriod = 5 * time.Minute
	OperatorAnd               = "and"
	OperatorOr                = "or"
)

// Config is the idle checkers' configuration. The zero value enables only session_lifetime.
type Config struct {
	// NetworkTimeout enables the network_timeout checker.
	NetworkTimeout bool
	// Utilization enables the utilization checker.
	Utilization bool
	// Threshold is network_timeout's timeout when the policy defers (idle_timeout < 0).
	Threshold time.Duration
	// UserInitialGracePeriod delays every checker until the user is that old; 0: none.
	UserInitialGracePeriod time.Duration
	// TimeWindow is utilization's window when the policy defers.
	TimeWindow time.Duration
	// InitialGracePeriod is how long after creation utilization is not judged.
	InitialGracePeriod time.Duration
	// Operator is "and" or "or" (see the package doc).
	Operator string
	// Thresholds maps a metric (cpu_util, mem, cuda_util, cuda_mem, atom_mem) to the average
	// percentage it must reach to count as busy.
	Thresholds map[string]float64
}

// Default returns the configuration used when the shared config sets nothing: only
// session_lifetime enabled, upstream's defaults for the rest.
func Default() Config {
	return Config{
		Threshold: DefaultThreshold, TimeWindow: DefaultTimeWindow, InitialGracePeriod: DefaultInitialGracePeriod,
		Operator: OperatorAnd, Thresholds: map[string]float64{},
	}
}

// Source is the shared configuration the checkers read; *config.Shared implements it.
type Source interface {
	Get(key string) (string, bool)
	GetPrefix(prefix string) map[string]any
	Duration(key string, def time.Duration) time.Duration
}

// Load reads the configuration from src (Default when src is nil). It returns the problems
// it skipped over (unknown checker names, unreadable thresholds) for the caller to log.
func Load(src Source) (Config, []string) {
	cfg := Default()
	if src == nil {
		return cfg, nil
	}
	var warnings []string
	if v, ok := src.Get(KeyEnabled); ok {
		for _, name := range strings.Split(v, ",") {
			switch strings.TrimSpace(name) {
			case "":
			case NetworkTimeout, timeoutAlias:
				cfg.NetworkTimeout = true
			case Utilization:
				cfg.Utilization = true
			case SessionLifetime:
				// always on
			default:
				warnings = append(warnings, fmt.Sprintf("%s: unknown idle checker %q ignored", KeyEnabled, strings.TrimSpace(name)))
			}
		}
	}
	key := func(checker, k string) string { return KeyCheckers + "/" + checker + "/" + k }
	cfg.Threshold = src.Duration(key(timeoutAlias, "threshold"), cfg.Threshold)
	cfg.Threshold = src.Duration(key(NetworkTimeout, "threshold"), cfg.Threshold)
	cfg.UserInitialGracePeriod = src.Duration(key("user_grace_period", "user_initial_grace_period"), 0)
	cfg.TimeWindow = src.Duration(key(Utilization, "time-window"), cfg.TimeWindow)
	cfg.InitialGracePeriod = src.Duration(key(Utilization, "initial-grace-period"), cfg.InitialGracePeriod)
	if v, ok := src.Get(key(Utilization, "thresholds-check-operator")); ok {
		switch op := strings.ToLower(strings.TrimSpace(v)); op {
		case OperatorAnd, OperatorOr:
			cfg.Operator = op
		default:
			warnings = append(warnings, fmt.Sprintf("utilization: unknown thresholds-check-operator %q; using %q", v, OperatorAnd))
		}
	}
	thresholds, w := parseThresholds(src, key(Utilization, "resource-thresholds"))
	cfg.Thresholds = thresholds
	return cfg, append(warnings, w...)
}

// parseThresholds reads resource-thresholds, stored either as keys
// (<key>/<metric>/average = "30") or as one JSON object ({"cpu_util": {"average": 30}}).
// A metric whose average is null or missing is left out.
func parseThresholds(src Source, key string) (map[string]float64, []string) {
	out := map[string]float64{}
	var tree map[string]any
	if v, ok := src.Get(key); ok && strings.TrimSpace(v) != "" {
		if err := json.Unmarshal([]byte(v), &tree); err != nil {
			return out, []string{fmt.Sprintf("%s: not a JSON object: %v", key, err)}
		}
	} else {
		tree = src.GetPrefix(key)
	}
	var warnings []string
	for metric, v := range tree {
		if metric == "" {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s/%s: want {\"average\": percent}", key, metric))
			continue
		}
		switch avg := m["average"].(type) {
		case nil:
		case float64:
			out[metric] = avg
		case string:
			if strings.TrimSpace(avg) == "" || strings.EqualFold(strings.TrimSpace(avg), "null") {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(avg), 64)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("%s/%s/average: %q is not a number", key, metric, avg))
				continue
			}
			out[metric] = f
		default:
			warnings = append(warnings, fmt.Sprintf("%s/%s/average: not a number", key, metric))
		}
	}
	sort.Strings(warnings)
	return out, warnings
}

// Enabled returns the names of the enabled checkers in the order Check runs them.
func (c Config) Enabled() []string {
	out := []string{SessionLifetime}
	if c.NetworkTimeout {
		out = append(out, NetworkTimeout)
	}
	if c.Utilization {
		out = append(out, Utilization)
	}
	return out
}
