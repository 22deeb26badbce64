package resource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// amount is a resource slot amount: a decimal, or an unlimited (infinite) amount. Backend.AI
// writes unlimited amounts as "Infinity".
type amount struct {
	d decimal.Decimal
	// inf is +1 for Infinity, -1 for -Infinity, 0 for a finite amount.
	inf int
}

var (
	zero      = amount{}        //nolint:gochecknoglobals // read-only value
	unlimited = amount{inf: +1} //nolint:gochecknoglobals // read-only value
)

// parseAmount reads a slot amount: a decimal (plain or with exponent) or an infinity spelling
// (inf, infinite, infinity in any case, optionally signed).
func parseAmount(s string) (amount, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	sign := 1
	switch {
	case strings.HasPrefix(t, "-"):
		sign, t = -1, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	switch t {
	case "inf", "infinite", "infinity":
		return amount{inf: sign}, nil
	}
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return zero, fmt.Errorf("invalid slot amount %q: %w", s, err)
	}
	return amount{d: d}, nil
}

// String writes a in Backend.AI's notation: plain decimals without exponent, or Infinity.
func (a amount) String() string {
	switch {
	case a.inf > 0:
		return "Infinity"
	case a.inf < 0:
		return "-Infinity"
	}
	return a.d.String()
}

// add returns a + b; opposite infinities cancel to zero.
func (a amount) add(b amount) amount {
	switch {
	case a.inf != 0 && b.inf != 0 && a.inf != b.inf:
		return zero
	case a.inf != 0:
		return a
	case b.inf != 0:
		return b
	}
	return amount{d: a.d.Add(b.d)}
}

// sub returns a − b.
func (a amount) sub(b amount) amount {
	return a.add(amount{d: b.d.Neg(), inf: -b.inf})
}

// cmp compares a and b: -1, 0 or +1.
func (a amount) cmp(b amount) int {
	if a.inf != 0 || b.inf != 0 {
		switch {
		case a.inf == b.inf:
			return 0
		case a.inf > b.inf:
			return 1
		}
		return -1
	}
	return a.d.Cmp(b.d)
}

// minAmount returns the smallest of the amounts.
func minAmount(first amount, rest ...amount) amount {
	m := first
	for _, a := range rest {
		if a.cmp(m) < 0 {
			m = a
		}
	}
	return m
}

// slotMap is a resource slot map: slot name → amount.
type slotMap map[string]amount

// parseSlots reads a JSONB slot map whose values are decimal strings (numbers are accepted too).
// An empty or null document is an empty map.
func parseSlots(raw []byte) (slotMap, error) {
	out := slotMap{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode slot map: %w", err)
	}
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case nil:
			continue
		default:
			return nil, fmt.Errorf("slot %q: unexpected value %v", k, v)
		}
		a, err := parseAmount(s)
		if err != nil {
			return nil, fmt.Errorf("slot %q: %w", k, err)
		}
		out[k] = a
	}
	return out, nil
}

// zeroSlots returns a map with every known slot at zero.
func zeroSlots(known map[string]string) slotMap {
	out := make(slotMap, len(known))
	for k := range known {
		out[k] = zero
	}
	return out
}

// normalized keeps the known slots of m and fills the missing ones with zero.
func (m slotMap) normalized(known map[string]string) slotMap {
	out := zeroSlots(known)
	for k := range known {
		if a, ok := m[k]; ok {
			out[k] = a
		}
	}
	return out
}

// fromPolicy builds the limits of a resource policy: the known slots of total, and for the known
// slots total does not mention, zero (limited) or Infinity (unlimited).
func fromPolicy(total slotMap, unlimitedByDefault bool, known map[string]string) slotMap {
	out := make(slotMap, len(known))
	for k := range known {
		switch a, ok := total[k]; {
		case ok:
			out[k] = a
		case unlimitedByDefault:
			out[k] = unlimited
		default:
			out[k] = zero
		}
	}
	return out
}

// addAll adds b into m, slot by slot (a missing slot counts as zero).
func (m slotMap) addAll(b slotMap) {
	for k, a := range b {
		m[k] = m[k].add(a)
	}
}

// minus returns m − b over the slots of m (a missing slot of b counts as zero).
func (m slotMap) minus(b slotMap) slotMap {
	out := make(slotMap, len(m))
	for k, a := range m {
		out[k] = a.sub(b[k])
	}
	return out
}

// covers reports whether m ≥ b in every slot of either map (a missing slot counts as zero).
func (m slotMap) covers(b slotMap) bool {
	for k, a := range b {
		if m[k].cmp(a) < 0 {
			return false
		}
	}
	for k, a := range m {
		if _, ok := b[k]; !ok && a.cmp(zero) < 0 {
			return false
		}
	}
	return true
}

// toJSON writes m as slot → string.
func (m slotMap) toJSON() map[string]string {
	out := make(map[string]string, len(m))
	for k, a := range m {
		out[k] = a.String()
	}
	return out
}

// nanSlots is the map Backend.AI answers for hidden figures: every known slot "NaN".
func nanSlots(known map[string]string) map[string]string {
	out := make(map[string]string, len(known))
	for k := range known {
		out[k] = "NaN"
	}
	return out
}
