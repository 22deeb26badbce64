package idle

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Termination reasons (the session's status_info).
const (
	ReasonTimeout         = "idle-timeout"
	ReasonSessionLifetime = "idle-session-lifetime"
	ReasonUtilization     = "idle-utilization"
)

// Remaining-time types of a report.
const (
	GracePeriod = "grace_period"
	ExpireAfter = "expire_after"
)

// Session types the checkers treat specially.
const (
	TypeBatch     = "BATCH"
	TypeInference = "INFERENCE"
)

// Session is what the checkers know of one session.
type Session struct {
	// Type is the session type (INTERACTIVE, BATCH, INFERENCE).
	Type string
	// CreatedAt is when the session was created.
	CreatedAt time.Time
	// RunningSince is when the session became RUNNING; it counts as an access.
	RunningSince time.Time
	// LastAccess is the last recorded API access, nil when there was none.
	LastAccess *time.Time
	// UserCreatedAt is when the session's owner was created (for the user grace period).
	UserCreatedAt time.Time
	// Slots are the slots the session occupies (decimal strings by slot name).
	Slots map[string]string
	// Utilization are the averages (percent) by metric over the utilization window that
	// ends now (see Window); metrics without samples are absent.
	Utilization map[string]float64
}

// Policy is the session's keypair resource policy, as far as the checkers read it.
type Policy struct {
	// IdleTimeout is in seconds: 0 never idle, negative defers to the shared configuration.
	IdleTimeout int64
	// MaxSessionLifetime is in seconds: 0 no limit.
	MaxSessionLifetime int64
}

// Report is one checker's remaining-time report, shaped as Backend.AI's idleChecks entries.
type Report struct {
	// Remaining is the seconds left (-1 once expired), nil when the checker does not apply.
	Remaining *float64 `json:"remaining"`
	// RemainingTimeType is GracePeriod or ExpireAfter.
	RemainingTimeType string `json:"remaining_time_type"`
	// Extra is the utilization checker's details, nil for the others.
	Extra *UtilizationExtra `json:"extra"`
}

// UtilizationExtra details a utilization report.
type UtilizationExtra struct {
	// Operator is the thresholds check operator ("and", "or").
	Operator string `json:"thresholds_check_operator"`
	// Resources maps each judged metric to [average or null, threshold].
	Resources map[string][2]*float64 `json:"resources"`
}

// Result is the outcome of Check.
type Result struct {
	// Reports holds one report per enabled checker.
	Reports map[string]Report
	// Expired is the first checker (in Config.Enabled order) that found the session
	// expired, "" when none did.
	Expired string
	// Reason is Expired's termination reason.
	Reason string
}

// reasons maps checkers to their termination reasons.
var reasons = map[string]string{ //nolint:gochecknoglobals // read-only
	SessionLifetime: ReasonSessionLifetime, NetworkTimeout: ReasonTimeout, Utilization: ReasonUtilization,
}

// ReasonOf returns the termination reason of checker.
func ReasonOf(checker string) string { return reasons[checker] }

// Check runs the enabled checkers on s at now. Inference sessions get empty reports and
// never expire.
func Check(cfg Config, s Session, p Policy, now time.Time) Result {
	res := Result{Reports: map[string]Report{}}
	graceEnd := userGraceEnd(cfg, s)
	for _, name := range cfg.Enabled() {
		var (
			r       Report
			expired bool
		)
		switch {
		case s.Type == TypeInference:
			r = Report{RemainingTimeType: ExpireAfter}
		case name == SessionLifetime:
			r, expired = checkLifetime(s, p, now)
		case name == NetworkTimeout:
			r, expired = checkNetwork(cfg, s, p, graceEnd, now)
		case name == Utilization:
			r, expired = checkUtilization(cfg, s, p, now)
		}
		res.Reports[name] = r
		if expired && res.Expired == "" {
			res.Expired, res.Reason = name, reasons[name]
		}
	}
	return res
}

// userGraceEnd returns when the user grace period ends (zero time when there is none).
func userGraceEnd(cfg Config, s Session) time.Time {
	if cfg.UserInitialGracePeriod <= 0 {
		return time.Time{}
	}
	return s.UserCreatedAt.Add(cfg.UserInitialGracePeriod)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// seconds returns d in seconds, as a report writes it.
func seconds(d time.Duration) *float64 {
	f := d.Seconds()
	return &f
}

// expiredMark is the remaining value of an expired report.
func expiredMark() *float64 {
	f := -1.0
	return &f
}

// remainingType is GracePeriod while now is before graceEnd.
func remainingType(graceEnd, now time.Time) string {
	if now.Before(graceEnd) {
		return GracePeriod
	}
	return ExpireAfter
}

// checkLifetime: the session expires max_session_lifetime after its creation.
func checkLifetime(s Session, p Policy, now time.Time) (Report, bool) {
	if p.MaxSessionLifetime <= 0 {
		return Report{RemainingTimeType: ExpireAfter}, false
	}
	remaining := s.CreatedAt.Add(time.Duration(p.MaxSessionLifetime) * time.Second).Sub(now)
	if remaining <= 0 {
		return Report{Remaining: expiredMark(), RemainingTimeType: ExpireAfter}, true
	}
	return Report{Remaining: seconds(remaining), RemainingTimeType: ExpireAfter}, false
}

// policyOr returns the policy's idle_timeout when it is set (≥ 0), else def.
func policyOr(p Policy, def time.Duration) time.Duration {
	if p.IdleTimeout >= 0 {
		return time.Duration(p.IdleTimeout) * time.Second
	}
	return def
}

// checkNetwork: the session expires when it was not accessed for the timeout.
func checkNetwork(cfg Config, s Session, p Policy, graceEnd, now time.Time) (Report, bool) {
	timeout := policyOr(p, cfg.Threshold)
	if s.Type == TypeBatch || timeout <= 0 {
		return Report{RemainingTimeType: remainingType(graceEnd, now)}, false
	}
	baseline := s.RunningSince
	if s.LastAccess != nil {
		baseline = later(baseline, *s.LastAccess)
	}
	remaining := later(baseline, graceEnd).Add(timeout).Sub(now)
	typ := remainingType(graceEnd, now)
	if remaining < 0 {
		return Report{Remaining: expiredMark(), RemainingTimeType: typ}, true
	}
	return Report{Remaining: seconds(remaining), RemainingTimeType: typ}, false
}

// Window returns the utilization window of a session under policy p (the policy's
// idle_timeout when set, else the configured time window); 0 means the checker never
// finds the session idle.
func Window(cfg Config, p Policy) time.Duration { return policyOr(p, cfg.TimeWindow) }

// UtilizationGraceEnd returns when utilization starts to be judged minus one window: the
// later of the user grace end and the creation, plus the initial grace period.
func UtilizationGraceEnd(cfg Config, s Session) time.Time {
	return later(userGraceEnd(cfg, s), s.CreatedAt).Add(cfg.InitialGracePeriod)
}

// checkUtilization: after the grace period and a first full window, the session expires
// when its average utilization stays below the thresholds (see the package doc).
func checkUtilization(cfg Config, s Session, p Policy, now time.Time) (Report, bool) {
	window := Window(cfg, p)
	graceEnd := UtilizationGraceEnd(cfg, s)
	typ := remainingType(graceEnd, now)
	metrics := judgedMetrics(cfg, s)
	extra := &UtilizationExtra{Operator: cfg.Operator, Resources: map[string][2]*float64{}}
	if extra.Operator == "" {
		extra.Operator = OperatorAnd
	}
	for _, m := range metrics {
		th := cfg.Thresholds[m]
		var avg *float64
		if v, ok := s.Utilization[m]; ok {
			avg = &v
		}
		extra.Resources[m] = [2]*float64{avg, &th}
	}
	if window <= 0 {
		return Report{RemainingTimeType: typ, Extra: extra}, false
	}
	remaining := graceEnd.Add(window).Sub(now)
	if remaining > 0 {
		return Report{Remaining: seconds(remaining), RemainingTimeType: typ, Extra: extra}, false
	}
	judged, low := 0, 0
	for _, m := range metrics {
		avg, ok := s.Utilization[m]
		if !ok {
			continue
		}
		judged++
		if avg < cfg.Thresholds[m] {
			low++
		}
	}
	idle := false
	if judged > 0 {
		if extra.Operator == OperatorOr {
			idle = low > 0
		} else {
			idle = low == judged
		}
	}
	if idle {
		return Report{Remaining: expiredMark(), RemainingTimeType: typ, Extra: extra}, true
	}
	zero := 0.0
	return Report{Remaining: &zero, RemainingTimeType: typ, Extra: extra}, false
}

// judgedMetrics returns, sorted, the metrics with a threshold whose slot the session holds.
func judgedMetrics(cfg Config, s Session) []string {
	out := make([]string, 0, len(cfg.Thresholds))
	for m := range cfg.Thresholds {
		if holdsSlotOf(m, s.Slots) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// holdsSlotOf reports whether slots hold a non-zero amount of the slot behind metric:
// cpu_util ← cpu, mem ← mem, cuda_util and cuda_mem ← cuda.*, atom_mem ← atom.*. Metrics of
// other devices are judged whenever they have a threshold.
func holdsSlotOf(metric string, slots map[string]string) bool {
	var match func(slot string) bool
	switch {
	case metric == "cpu_util":
		match = func(slot string) bool { return slot == "cpu" }
	case metric == "mem":
		match = func(slot string) bool { return slot == "mem" }
	case strings.HasPrefix(metric, "cuda_"):
		match = func(slot string) bool { return strings.HasPrefix(slot, "cuda.") }
	case strings.HasPrefix(metric, "atom_"):
		match = func(slot string) bool { return strings.HasPrefix(slot, "atom.") || slot == "atom" }
	default:
		return true
	}
	for slot, v := range slots {
		if !match(slot) {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return true
		}
	}
	return false
}

// ParseSlots decodes a slot column (a JSON object of decimal strings or numbers) into slot
// name → amount; an unreadable value yields an empty map.
func ParseSlots(raw []byte) map[string]string {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return out
}

// Judging reports whether the utilization checker is enabled and past its grace period and
// first window for s at now, so that it needs s's averages over the window that ends now.
func Judging(cfg Config, s Session, p Policy, now time.Time) bool {
	if !cfg.Utilization || s.Type == TypeInference {
		return false
	}
	w := Window(cfg, p)
	return w > 0 && !now.Before(UtilizationGraceEnd(cfg, s).Add(w))
}
