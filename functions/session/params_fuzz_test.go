package session

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzParseStartsAt: starts_at is an absolute time or a delay; a delay without a minus sign
// never lands in the past (no overflow wraps it around), and nothing panics.
func FuzzParseStartsAt(f *testing.F) {
	for _, s := range []string{"2024-05-01T12:00:00Z", "2024-05-01", "30m", "1h30m", "2d", "2d3h", "d", "-1d", "1e400", "\xff", "", "106752d", "106751d23h47m16s", "36500d2562047h"} {
		f.Add(s)
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseStartsAt(s, now)
		if err != nil || strings.Contains(s, "-") || strings.Contains(s, ":") {
			return
		}
		require.False(t, at.Before(now), "%q gives %s, before now", s, at)
	})
}
