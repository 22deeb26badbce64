// Package kernelstat builds a kernel's statistics in Backend.AI's stat format (version 2, what
// the agents keep per kernel and what `backend.ai run -s` prints): {metric: {"current",
// "capacity", "pct", "unit_hint", "stats.<k>"…}} with decimal strings. Hangar's agents report
// utilization samples (percentages by metric: cpu_util, mem, cuda_util, cuda_mem) rather than
// absolute figures, so the absolute ones are derived from the kernel's occupied slots.
//
// DELETE /session returns the main kernel's statistics built here, and a kernel that ends
// keeps its own in kernels.last_stat (the GraphQL containers' last_stat and the usage
// reports read it).
package kernelstat

import (
	"encoding/json"

	"github.com/shopspring/decimal"
)

var hundred = decimal.NewFromInt(100)

// FromSample returns the statistics of a kernel whose latest utilization sample is metrics (a
// JSON object metric → percent) and whose occupied slots are occupiedSlots (a JSON object slot →
// decimal string). It returns nil when the sample holds no known metric or is not a JSON object
// of numbers.
//
//   - cpu_util: current = pct × cores, capacity = cores × 100 (percent);
//   - mem: current = the limit × pct / 100 (bytes, rounded down), capacity = the limit,
//     stats.max = current;
//   - cuda_util, cuda_mem: current = pct, capacity = 100 (percent).
//
// Percentages are rounded to two decimals, as Backend.AI writes them.
func FromSample(metrics, occupiedSlots json.RawMessage) map[string]any {
	var m map[string]float64
	if err := json.Unmarshal(metrics, &m); err != nil || len(m) == 0 {
		return nil
	}
	var slots map[string]any
	_ = json.Unmarshal(occupiedSlots, &slots)
	slot := func(name string) decimal.Decimal {
		var d decimal.Decimal
		var err error
		switch v := slots[name].(type) {
		case string:
			d, err = decimal.NewFromString(v)
		case float64:
			d = decimal.NewFromFloat(v)
		default:
			return decimal.Zero
		}
		if err != nil || d.IsNegative() {
			return decimal.Zero
		}
		return d
	}
	pctOf := func(p float64) decimal.Decimal { return decimal.NewFromFloat(p).Round(2) }
	out := map[string]any{}
	if p, ok := m["cpu_util"]; ok {
		cores := slot("cpu")
		out["cpu_util"] = map[string]any{
			"current": pctOf(p).Mul(cores).Round(2).String(), "capacity": cores.Mul(hundred).String(),
			"pct": pctOf(p).String(), "unit_hint": "percent",
		}
	}
	if p, ok := m["mem"]; ok {
		limit := slot("mem")
		cur := limit.Mul(decimal.NewFromFloat(p)).Div(hundred).Floor()
		out["mem"] = map[string]any{
			"current": cur.String(), "capacity": limit.String(), "pct": pctOf(p).String(), "unit_hint": "bytes",
			"stats.max": cur.String(),
		}
	}
	for _, name := range []string{"cuda_util", "cuda_mem"} {
		if p, ok := m[name]; ok {
			out[name] = map[string]any{
				"current": pctOf(p).String(), "capacity": "100", "pct": pctOf(p).String(), "unit_hint": "percent",
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
