// Package slots parses and normalizes resource slot amounts the way Backend.AI does: a resource
// slot map is slot name → decimal string, where "bytes" slots (mem, ...) accept binary sizes
// such as "4g" and "count" slots (cpu, cuda.shares, ...) accept decimals kept to three places.
// Amounts are written back without scientific notation, and an unlimited amount is "Infinity".
package slots

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// Slot types, as stored under config/resource_slots in the shared configuration.
const (
	// TypeCount is a slot counted in (possibly fractional) units, such as cpu.
	TypeCount = "count"
	// TypeBytes is a slot measured in bytes, such as mem.
	TypeBytes = "bytes"
	// TypeUnique is a slot allocated as exactly one unit on an agent.
	TypeUnique = "unique"
)

// Infinity is how an unlimited amount is written in a resource slot map.
const Infinity = "Infinity"

// countPlaces is the number of decimal places count slots keep.
const countPlaces = 3

var (
	// ErrInfinite is returned by ParseBinarySize for "inf", "infinite" and "infinity", which
	// are valid sizes that a decimal cannot hold. Callers that accept them check errors.Is.
	ErrInfinite = errors.New("infinite size")
	// ErrUnknownSlot is wrapped by the *SlotError Normalize returns for a slot name that is
	// not among the known slot types.
	ErrUnknownSlot = errors.New("unknown resource slot")
)

// Intrinsic returns the slots every Hangar installation has: cpu (count) and mem (bytes).
func Intrinsic() map[string]string {
	return map[string]string{"cpu": TypeCount, "mem": TypeBytes}
}

// SlotError reports which slot of a map Normalize rejected, and why.
type SlotError struct {
	// Slot is the offending slot name.
	Slot string
	// Value is the amount as given.
	Value string
	// Err is the cause: ErrUnknownSlot or a parse error.
	Err error
}

// Error implements error.
func (e *SlotError) Error() string {
	if errors.Is(e.Err, ErrUnknownSlot) {
		return fmt.Sprintf("unknown resource slot %q", e.Slot)
	}
	return fmt.Sprintf("invalid amount %q for resource slot %q: %v", e.Value, e.Slot, e.Err)
}

// Unwrap returns the cause.
func (e *SlotError) Unwrap() error { return e.Err }

// binaryMultipliers maps a binary size suffix to its power of 1024.
var binaryMultipliers = map[byte]int32{ //nolint:gochecknoglobals // read-only table
	'k': 1, 'm': 2, 'g': 3, 't': 4, 'p': 5, 'e': 6, 'z': 7, 'y': 8,
}

// unsignedNumber is a plain non-negative decimal without exponent: "1", "1.5", ".5", "2.".
var unsignedNumber = regexp.MustCompile(`^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$`) //nolint:gochecknoglobals // read-only

var kibi = decimal.NewFromInt(1024) //nolint:gochecknoglobals // read-only constant

// IsInfinity reports whether s spells an unlimited amount: "inf", "infinite" or "infinity" in
// any case (so "Infinity" too), with surrounding spaces allowed.
func IsInfinity(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "inf", "infinite", "infinity":
		return true
	}
	return false
}

// ParseBinarySize parses a byte amount in Backend.AI's binary size notation and returns the
// number of bytes:
//
//   - a plain integer: "1073741824", with "_" separators allowed ("1_000");
//   - a number with a case-insensitive suffix k, m, g, t, p, e, z or y, each a power of 1024,
//     optionally followed by "b", "ib", "bytes" or "ibytes": "4g", "512M", "2KiB", "1gbytes";
//   - a fractional number with a suffix, multiplied then truncated to whole bytes: "1.5g";
//   - a plain integer followed by "b" or "bytes": "100b".
//
// Negative and fractional plain amounts are rejected. "inf", "infinite" and "infinity" return
// an error wrapping ErrInfinite.
func ParseBinarySize(s string) (decimal.Decimal, error) {
	if IsInfinity(s) {
		return decimal.Zero, fmt.Errorf("binary size %q: %w", s, ErrInfinite)
	}
	expr := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
	if expr == "" {
		return decimal.Zero, errors.New("empty binary size")
	}
	unit := ""
	for _, u := range []string{"ibytes", "bytes", "ib", "b"} {
		if strings.HasSuffix(expr, u) {
			unit, expr = u, strings.TrimSuffix(expr, u)
			break
		}
	}
	var power int32
	if n := len(expr); n > 0 {
		if p, ok := binaryMultipliers[expr[n-1]]; ok {
			power, expr = p, expr[:n-1]
		}
	}
	if power == 0 && strings.HasPrefix(unit, "i") {
		return decimal.Zero, fmt.Errorf("invalid binary size %q: %q needs a multiplier such as k or m", s, unit)
	}
	expr = strings.TrimSpace(expr)
	if !unsignedNumber.MatchString(expr) {
		return decimal.Zero, fmt.Errorf("invalid binary size %q", s)
	}
	if power == 0 && strings.Contains(expr, ".") {
		return decimal.Zero, fmt.Errorf("invalid binary size %q: a plain byte amount must be an integer", s)
	}
	d, err := decimal.NewFromString(expr)
	if err != nil {
		return decimal.Zero, fmt.Errorf("invalid binary size %q: %w", s, err)
	}
	return d.Mul(kibi.Pow(decimal.NewFromInt32(power))).Truncate(0), nil
}

// ParseCount parses the amount of a count slot with ParseValue under Finite: a non-negative
// decimal ("2", "0.5", "1e3", "1_000") up to MaxCountUnits, rounded half-to-even to three
// decimal places.
func ParseCount(s string) (decimal.Decimal, error) {
	a, err := ParseValue(s, TypeCount, Finite)
	if err != nil {
		return decimal.Zero, fmt.Errorf("invalid amount %q: %w", s, err)
	}
	return a.Decimal(), nil
}

// Format writes d in plain decimal notation (never scientific), without trailing zeros:
// "2", "0.5", "1073741824".
func Format(d decimal.Decimal) string {
	return d.String()
}

// NormalizeValue normalizes one amount of a slot of type slotType with ParseValue under
// AllowInfinity: binary sizes for TypeBytes, decimals with three places for the others; any
// "inf"/"infinity" spelling becomes Infinity.
func NormalizeValue(value, slotType string) (string, error) {
	return NormalizeValueRule(value, slotType, AllowInfinity)
}

// NormalizeValueRule is NormalizeValue under rule.
func NormalizeValueRule(value, slotType string, rule Rule) (string, error) {
	a, err := ParseValue(value, slotType, rule)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// Normalize is NormalizeMap under AllowInfinity, for policy limits.
func Normalize(in map[string]string, slotTypes map[string]string) (map[string]string, error) {
	return NormalizeMap(in, slotTypes, AllowInfinity)
}

// NormalizeMap checks every slot of in against slotTypes (slot name → TypeCount, TypeBytes or
// TypeUnique) and returns a new map with each amount normalized by ParseValue under rule. It
// does not add missing slots. The first offending slot in name order is reported as a
// *SlotError wrapping ErrUnknownSlot or the parse error. A nil map gives an empty one.
func NormalizeMap(in map[string]string, slotTypes map[string]string, rule Rule) (map[string]string, error) {
	names := sortedKeys(in)
	out := make(map[string]string, len(in))
	for _, name := range names {
		value := in[name]
		typ, ok := slotTypes[name]
		if !ok {
			return nil, &SlotError{Slot: name, Value: value, Err: ErrUnknownSlot}
		}
		norm, err := NormalizeValueRule(value, typ, rule)
		if err != nil {
			return nil, &SlotError{Slot: name, Value: value, Err: err}
		}
		out[name] = norm
	}
	return out, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
