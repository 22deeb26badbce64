package kernelstat

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromSample(t *testing.T) {
	t.Parallel()
	got := FromSample(json.RawMessage(`{"cpu_util": 50.123, "mem": 25, "cuda_util": 7.5, "unknown": 1}`),
		json.RawMessage(`{"cpu": "2", "mem": "1073741824"}`))
	require.Equal(t, map[string]any{
		"cpu_util": map[string]any{"current": "100.24", "capacity": "200", "pct": "50.12", "unit_hint": "percent"},
		"mem": map[string]any{"current": "268435456", "capacity": "1073741824", "pct": "25", "unit_hint": "bytes",
			"stats.max": "268435456"},
		"cuda_util": map[string]any{"current": "7.5", "capacity": "100", "pct": "7.5", "unit_hint": "percent"},
	}, got)
}

func TestFromSampleHostileInput(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ metrics, slots string }{
		"no sample":       {"", `{"cpu": "1"}`},
		"not an object":   {`[1, 2]`, `{"cpu": "1"}`},
		"strings":         {`{"cpu_util": "50"}`, `{"cpu": "1"}`},
		"unknown metrics": {`{"net_rx": 5}`, `{"cpu": "1"}`},
		"empty":           {`{}`, `{}`},
	} {
		require.Nil(t, FromSample(json.RawMessage(tc.metrics), json.RawMessage(tc.slots)), name)
	}
	// Slots that are missing, malformed or negative count as zero; the percentages stay.
	got := FromSample(json.RawMessage(`{"cpu_util": 10, "mem": 10}`), json.RawMessage(`{"cpu": "x", "mem": "-5"}`))
	require.Equal(t, "0", got["cpu_util"].(map[string]any)["capacity"])
	require.Equal(t, "0", got["mem"].(map[string]any)["current"])
	require.Equal(t, "10", got["mem"].(map[string]any)["pct"])
	got = FromSample(json.RawMessage(`{"mem": 50}`), json.RawMessage(`not json`))
	require.Equal(t, "0", got["mem"].(map[string]any)["capacity"])
}
