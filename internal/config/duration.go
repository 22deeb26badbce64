package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration written the way Backend.AI's configuration writes them:
// plain seconds ("90", "1.5"), or a number followed by one unit of w (weeks), d (days),
// h, m, s or ms ("10m", "1h", "30s", "2d", "1.5h"). Go duration strings such as "1h30m"
// are accepted too. Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("duration: empty value")
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return fromUnits(s, secs, float64(time.Second))
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		{"ms", time.Millisecond},
		{"w", 7 * 24 * time.Hour},
		{"d", 24 * time.Hour},
		{"h", time.Hour},
		{"m", time.Minute},
		{"s", time.Second},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(num), 64); err == nil {
			return fromUnits(s, n, float64(u.unit))
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want seconds or a number with a unit (w, d, h, m, s, ms)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q: must not be negative", s)
	}
	return d, nil
}

func fromUnits(s string, n, unit float64) (time.Duration, error) {
	v := n * unit
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q: out of range", s)
	}
	return time.Duration(v), nil
}
