package scheduler

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/slots"
)

// Slot types, as stored under config/resource_slots in the shared configuration.
const (
	// SlotTypeCount is a slot counted in (possibly fractional) units, such as cpu. Amounts of
	// count slots are held in thousandths: cpu 1.5 is 1500.
	SlotTypeCount = "count"
	// SlotTypeBytes is a slot measured in bytes, such as mem. Amounts are held in bytes.
	SlotTypeBytes = "bytes"
	// SlotTypeUnique is a slot allocated as exactly one unit on an agent. Amounts are held in
	// thousandths, like count slots.
	SlotTypeUnique = "unique"
)

// Unlimited is the amount of a limit without bound ("Infinity" in a resource slot map). It
// appears only in limits and policies, never in capacities, occupancies or requests.
const Unlimited int64 = math.MaxInt64

// MilliPerUnit is the number of stored units in one unit of a count or unique slot: those
// slots keep three decimal places, as Hangar normalizes them, so cpu "0.5" is stored as 500.
const MilliPerUnit = 1000

// milliPlaces is log10(MilliPerUnit).
const milliPlaces = 3

// ErrUnknownSlot is wrapped by the errors ParseSlots returns for a slot name outside the
// snapshot's slot names.
var ErrUnknownSlot = errors.New("unknown resource slot")

// slotType returns the type of the named slot: types[name] when present, otherwise bytes for a
// name containing "mem" and count for any other, the guess Hangar makes for untyped slots.
func slotType(types map[string]string, name string) string {
	return slots.GuessType(types, name)
}

// ParseAmount converts one resource slot amount to its int64 form: thousandths for count and
// unique slots, bytes for bytes slots. It reads amounts with slots.ParseStored, the one strict
// amount parser (finite, non-negative, at most slots.Max of the type, so any thousand amounts
// add up within int64); "Infinity" (any spelling Hangar accepts) becomes Unlimited.
func ParseAmount(value, slotType string) (int64, error) {
	return parseAmount(value, slotType, slots.AllowInfinity)
}

// parseAmount is ParseAmount under rule.
func parseAmount(value, slotType string, rule slots.Rule) (int64, error) {
	a, err := slots.ParseStored(value, slotType, rule)
	if err != nil {
		return 0, fmt.Errorf("parse amount %q: %w", value, err)
	}
	if a.IsUnlimited() {
		return Unlimited, nil
	}
	d := a.Decimal()
	if slotType == SlotTypeBytes {
		d = d.Truncate(0)
	} else {
		d = d.RoundBank(milliPlaces).Shift(milliPlaces)
	}
	return d.IntPart(), nil
}

// FormatAmount writes an amount back as a resource slot map value: "Infinity" for Unlimited,
// a plain decimal without trailing zeros for count and unique slots ("1.5", "2"), and whole
// bytes for bytes slots.
func FormatAmount(v int64, slotType string) string {
	if v == Unlimited {
		return "Infinity"
	}
	if slotType == SlotTypeBytes {
		return strconv.FormatInt(v, 10)
	}
	return decimal.New(v, -milliPlaces).String()
}

// ParseSlots converts a resource slot map (slot name → amount) of requests, capacities or
// occupancies to a vector indexed like names, with ParseAmount and each slot's type from
// types (name → SlotTypeCount, SlotTypeBytes or SlotTypeUnique; an untyped name containing
// "mem" is bytes, any other count). Every amount must be finite ("Infinity" is an error).
// Slots missing from m are 0; a slot not in names is an error wrapping ErrUnknownSlot.
func ParseSlots(names []string, types map[string]string, m map[string]string) ([]int64, error) {
	out := make([]int64, len(names))
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	for name, value := range m {
		i, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("slot %q: %w", name, ErrUnknownSlot)
		}
		v, err := parseAmount(value, slotType(types, name), slots.Finite)
		if err != nil {
			return nil, fmt.Errorf("slot %q: %w", name, err)
		}
		out[i] = v
	}
	return out, nil
}

// PolicySlots converts the total_resource_slots of a resource policy to a limit vector
// indexed like names. Slots the policy names take its amounts; the others are Unlimited when
// defaultUnlimited (default_for_unspecified UNLIMITED) and 0 otherwise (LIMITED). Entries
// for slots outside names are ignored, as policies may mention slots no agent offers.
func PolicySlots(names []string, types map[string]string, total map[string]string, defaultUnlimited bool) ([]int64, error) {
	out := make([]int64, len(names))
	for i, name := range names {
		value, ok := total[name]
		if !ok {
			if defaultUnlimited {
				out[i] = Unlimited
			}
			continue
		}
		v, err := ParseAmount(value, slotType(types, name))
		if err != nil {
			return nil, fmt.Errorf("slot %q: %w", name, err)
		}
		out[i] = v
	}
	return out, nil
}

// FormatSlots writes a vector indexed like names back as a resource slot map with
// FormatAmount. A nil vector gives an empty map.
func FormatSlots(names []string, types map[string]string, v []int64) map[string]string {
	out := make(map[string]string, len(v))
	for i, amount := range v {
		out[names[i]] = FormatAmount(amount, slotType(types, names[i]))
	}
	return out
}

// humanAmount writes an amount for a message: binary sizes ("4g", "512m") for bytes slots
// when exact, FormatAmount otherwise.
func humanAmount(v int64, slotType string) string {
	if v == Unlimited {
		return "Infinity"
	}
	if slotType == SlotTypeBytes && v > 0 {
		for _, u := range [...]struct {
			suffix string
			size   int64
		}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if v%u.size == 0 {
				return strconv.FormatInt(v/u.size, 10) + u.suffix
			}
		}
	}
	return FormatAmount(v, slotType)
}
