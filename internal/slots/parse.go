package slots

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Bounds of a finite amount. Both keep a stored amount (count slots in thousandths, bytes
// slots in bytes) at or below 2^53, so that a thousand of them still add up within a signed
// 64-bit integer (the scheduler's arithmetic) and JSON clients that hold numbers as doubles
// read them exactly.
const (
	// MaxInputLen is the longest amount string accepted, in bytes, before any parsing.
	MaxInputLen = 64
	// MaxCountUnits is the largest amount of a count or unique slot: 10^12 units.
	MaxCountUnits = 1_000_000_000_000
	// MaxBytes is the largest amount of a bytes slot: 2^53 bytes (8 PiB, "8p").
	MaxBytes = 1 << 53
	// MaxSlotsPerMap is the most slots one resource slot map may name.
	MaxSlotsPerMap = 64
	// MaxSlotNameLen is the longest slot name accepted, in bytes.
	MaxSlotNameLen = 64
)

// Rule says whether a slot map may hold unlimited amounts.
type Rule int

const (
	// Finite is the rule of requests, presets, agent capacities and occupancies: every amount
	// is a finite decimal.
	Finite Rule = iota
	// AllowInfinity is the rule of policy limits (total_resource_slots,
	// max_pending_session_resource_slots): "Infinity" means no limit.
	AllowInfinity
)

var (
	// ErrOutOfRange is wrapped by the errors of amounts above MaxCountUnits or MaxBytes, or
	// longer than MaxInputLen.
	ErrOutOfRange = errors.New("amount out of range")
	// ErrNotFinite is wrapped by the errors of unlimited amounts where Rule is Finite.
	ErrNotFinite = errors.New("amount must be finite")
)

var (
	maxCount = decimal.NewFromInt(MaxCountUnits) //nolint:gochecknoglobals // read-only constant
	maxBytes = decimal.NewFromInt(MaxBytes)      //nolint:gochecknoglobals // read-only constant
)

// countSyntax is a non-negative decimal without sign: digits with an optional fraction and an
// optional exponent of at most four digits ("2", "0.5", ".5", "1e3", "2.5E-1").
var countSyntax = regexp.MustCompile(`^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?$`) //nolint:gochecknoglobals // read-only

// Max returns the largest finite amount of a slot of type slotType.
func Max(slotType string) decimal.Decimal {
	if slotType == TypeBytes {
		return maxBytes
	}
	return maxCount
}

// checkInput refuses strings no amount can be: too long, not UTF-8, or holding control
// characters (NUL included).
func checkInput(s string) error {
	if len(s) > MaxInputLen {
		return fmt.Errorf("%w: longer than %d characters", ErrOutOfRange, MaxInputLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("holds a control character")
		}
	}
	return nil
}

// parseDecimal reads countSyntax ("_" separators allowed) and refuses, before any
// arithmetic, numbers whose integer part has more than 20 digits.
func parseDecimal(s string) (decimal.Decimal, error) {
	expr := strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	if expr == "" {
		return decimal.Zero, errors.New("empty amount")
	}
	if !countSyntax.MatchString(expr) {
		return decimal.Zero, errors.New("not a non-negative decimal")
	}
	d, err := decimal.NewFromString(expr)
	if err != nil {
		return decimal.Zero, errors.New("not a non-negative decimal")
	}
	if !d.IsZero() && int64(d.NumDigits())+int64(d.Exponent()) > 20 {
		return decimal.Zero, fmt.Errorf("%w: more than 20 integer digits", ErrOutOfRange)
	}
	return d, nil
}

// ParseValue is the one strict parser of a resource slot amount as users and the API give it
// (requests, presets, policies, agent configuration). For a slot of type slotType it accepts:
//
//   - TypeBytes: Backend.AI's binary sizes ("1073741824", "256m", "1g", "1.5g", "2KiB");
//   - TypeCount and TypeUnique: a non-negative decimal ("2", "0.5", "1e3", "1_000"), rounded
//     half-to-even to three places;
//   - "Infinity" (or inf, infinite, any case) only under AllowInfinity: Unlimited.
//
// Surrounding spaces are ignored. Refused: signs (so "-0" too), NaN, infinities under Finite,
// control characters, strings over MaxInputLen bytes, and finite amounts above Max(slotType)
// (ErrOutOfRange).
func ParseValue(value, slotType string, rule Rule) (Amount, error) {
	if err := checkInput(value); err != nil {
		return Zero, err
	}
	if IsInfinity(value) {
		if rule != AllowInfinity {
			return Zero, ErrNotFinite
		}
		return Unlimited, nil
	}
	var (
		d   decimal.Decimal
		err error
	)
	if slotType == TypeBytes {
		d, err = parseBytes(value)
	} else {
		d, err = parseDecimal(value)
		d = d.RoundBank(countPlaces)
	}
	if err != nil {
		return Zero, err
	}
	return bounded(d, slotType)
}

// parseBytes is ParseBinarySize with the integer part limited before the multiplication.
func parseBytes(value string) (decimal.Decimal, error) {
	expr := strings.TrimSpace(value)
	digits := 0
	for _, r := range expr {
		if r >= '0' && r <= '9' {
			digits++
		} else if r == '.' {
			break
		}
	}
	if digits > 20 {
		return decimal.Zero, ErrOutOfRange
	}
	return ParseBinarySize(expr)
}

// bounded returns d as an Amount when it is within Max(slotType).
func bounded(d decimal.Decimal, slotType string) (Amount, error) {
	if max := Max(slotType); d.GreaterThan(max) {
		return Zero, fmt.Errorf("%w: at most %s", ErrOutOfRange, humanMax(slotType))
	}
	return Amount{d: d}, nil
}

// humanMax writes Max(slotType) for messages.
func humanMax(slotType string) string {
	if slotType == TypeBytes {
		return "8p (2^53 bytes)"
	}
	return "10^12"
}

// ParseStored parses an amount read back from the database or from an agent: ParseValue's
// syntax, and for bytes slots also plain decimals (with fraction or exponent, as JSON numbers
// and older rows may hold), truncated to whole bytes. The bounds and the rule are the same.
func ParseStored(value, slotType string, rule Rule) (Amount, error) {
	a, err := ParseValue(value, slotType, rule)
	if err == nil || slotType != TypeBytes || errors.Is(err, ErrOutOfRange) || errors.Is(err, ErrNotFinite) {
		return a, err
	}
	if checkInput(value) != nil {
		return Zero, err
	}
	d, derr := parseDecimal(value)
	if errors.Is(derr, ErrOutOfRange) {
		return Zero, fmt.Errorf("%w: at most %s", ErrOutOfRange, humanMax(slotType))
	}
	if derr != nil {
		return Zero, err
	}
	return bounded(d.Truncate(0), slotType)
}

// Decimal returns the finite value of a; Unlimited gives 0.
func (a Amount) Decimal() decimal.Decimal { return a.d }

// IsUnlimited reports whether a is Infinity.
func (a Amount) IsUnlimited() bool { return a.inf > 0 }

// DecodeMap decodes a resource slot map stored as JSON: an object of slot name → amount,
// where an amount is a string or a JSON number (kept as written, never through a float). A
// JSON null or empty document is an empty map, and null amounts are left out. The names are
// checked (at most MaxSlotsPerMap, each 1 to MaxSlotNameLen bytes of printable UTF-8) and
// the amounts are not: parse them with ParseValue or ParseStored.
func DecodeMap(raw []byte) (map[string]string, error) {
	out := map[string]string{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode resource slots: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode resource slots: trailing data")
	}
	if len(m) > MaxSlotsPerMap {
		return nil, fmt.Errorf("decode resource slots: %d slots, at most %d", len(m), MaxSlotsPerMap)
	}
	for k, v := range m {
		if err := CheckName(k); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case nil:
		default:
			return nil, fmt.Errorf("resource slot %q: amount %v is neither a string nor a number", k, v)
		}
	}
	return out, nil
}

// CheckName checks a slot name: 1 to MaxSlotNameLen bytes of UTF-8 without control
// characters.
func CheckName(name string) error {
	if name == "" || len(name) > MaxSlotNameLen {
		return fmt.Errorf("resource slot name %q: must be 1 to %d characters", trunc(name), MaxSlotNameLen)
	}
	if err := checkInput(name); err != nil {
		return fmt.Errorf("resource slot name %q: %w", trunc(name), err)
	}
	return nil
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > MaxSlotNameLen {
		return s[:MaxSlotNameLen] + "…"
	}
	return s
}

// ParseStoredMap decodes a stored slot map with DecodeMap and parses every amount with
// ParseStored, typing each slot with types (a slot missing from types is a count slot, or a
// bytes slot when its name contains "mem", the guess Hangar makes for untyped slots). The
// first offending slot in name order is reported as a *SlotError.
func ParseStoredMap(raw []byte, types map[string]string, rule Rule) (Map, error) {
	m, err := DecodeMap(raw)
	if err != nil {
		return nil, err
	}
	out := make(Map, len(m))
	for _, name := range sortedKeys(m) {
		a, err := ParseStored(m[name], GuessType(types, name), rule)
		if err != nil {
			return nil, &SlotError{Slot: name, Value: m[name], Err: err}
		}
		out[name] = a
	}
	return out, nil
}

// GuessType returns types[name] when present, otherwise TypeBytes for a name containing
// "mem" and TypeCount for any other.
func GuessType(types map[string]string, name string) string {
	if t, ok := types[name]; ok {
		return t
	}
	if strings.Contains(name, "mem") {
		return TypeBytes
	}
	return TypeCount
}
