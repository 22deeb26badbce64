package slots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Amount is a resource slot amount: a decimal, or an unlimited (infinite) amount. Backend.AI
// writes unlimited amounts as "Infinity".
type Amount struct {
	d decimal.Decimal
	// inf is +1 for Infinity, -1 for -Infinity, 0 for a finite amount.
	inf int
}

// Zero and Unlimited are the amounts 0 and Infinity.
var (
	Zero      = Amount{}        //nolint:gochecknoglobals // read-only value
	Unlimited = Amount{inf: +1} //nolint:gochecknoglobals // read-only value
)

// AmountOf returns the finite amount d.
func AmountOf(d decimal.Decimal) Amount { return Amount{d: d} }

// ParseAmount reads a slot amount: a decimal (plain or with exponent) or an infinity spelling
// (inf, infinite, infinity in any case, optionally signed).
func ParseAmount(s string) (Amount, error) {
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
		return Amount{inf: sign}, nil
	}
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return Zero, fmt.Errorf("invalid slot Amount %q: %w", s, err)
	}
	return Amount{d: d}, nil
}

// String writes a in Backend.AI's notation: plain decimals without exponent, or Infinity.
func (a Amount) String() string {
	switch {
	case a.inf > 0:
		return "Infinity"
	case a.inf < 0:
		return "-Infinity"
	}
	return a.d.String()
}

// Add returns a + b; opposite infinities cancel to Zero.
func (a Amount) Add(b Amount) Amount {
	switch {
	case a.inf != 0 && b.inf != 0 && a.inf != b.inf:
		return Zero
	case a.inf != 0:
		return a
	case b.inf != 0:
		return b
	}
	return Amount{d: a.d.Add(b.d)}
}

// Sub returns a − b.
func (a Amount) Sub(b Amount) Amount {
	return a.Add(Amount{d: b.d.Neg(), inf: -b.inf})
}

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int {
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

// Min returns the smallest of the amounts.
func Min(first Amount, rest ...Amount) Amount {
	m := first
	for _, a := range rest {
		if a.Cmp(m) < 0 {
			m = a
		}
	}
	return m
}

// Map is a resource slot map: slot name → Amount.
type Map map[string]Amount

// ParseMap reads a JSONB slot map whose values are decimal strings (numbers are accepted too).
// An empty or null document is an empty map.
func ParseMap(raw []byte) (Map, error) {
	out := Map{}
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
		a, err := ParseAmount(s)
		if err != nil {
			return nil, fmt.Errorf("slot %q: %w", k, err)
		}
		out[k] = a
	}
	return out, nil
}

// ZeroMap returns a map with every known slot at Zero.
func ZeroMap(known map[string]string) Map {
	out := make(Map, len(known))
	for k := range known {
		out[k] = Zero
	}
	return out
}

// Normalized keeps the known slots of m and fills the missing ones with Zero.
func (m Map) Normalized(known map[string]string) Map {
	out := ZeroMap(known)
	for k := range known {
		if a, ok := m[k]; ok {
			out[k] = a
		}
	}
	return out
}

// FromPolicy builds the limits of a resource policy: the known slots of total, and for the known
// slots total does not mention, Zero (limited) or Infinity (Unlimited).
func FromPolicy(total Map, unlimitedByDefault bool, known map[string]string) Map {
	out := make(Map, len(known))
	for k := range known {
		switch a, ok := total[k]; {
		case ok:
			out[k] = a
		case unlimitedByDefault:
			out[k] = Unlimited
		default:
			out[k] = Zero
		}
	}
	return out
}

// AddAll adds b into m, slot by slot (a missing slot counts as Zero).
func (m Map) AddAll(b Map) {
	for k, a := range b {
		m[k] = m[k].Add(a)
	}
}

// Minus returns m − b over the slots of m (a missing slot of b counts as Zero).
func (m Map) Minus(b Map) Map {
	out := make(Map, len(m))
	for k, a := range m {
		out[k] = a.Sub(b[k])
	}
	return out
}

// Covers reports whether m ≥ b in every slot of either map (a missing slot counts as Zero).
func (m Map) Covers(b Map) bool {
	for k, a := range b {
		if m[k].Cmp(a) < 0 {
			return false
		}
	}
	for k, a := range m {
		if _, ok := b[k]; !ok && a.Cmp(Zero) < 0 {
			return false
		}
	}
	return true
}

// Strings writes m as slot → string.
func (m Map) Strings() map[string]string {
	out := make(map[string]string, len(m))
	for k, a := range m {
		out[k] = a.String()
	}
	return out
}
