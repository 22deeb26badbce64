package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/slots"
)

// nameRe is Backend.AI's session name rule: 4 to 64 ASCII word characters, dots and dashes,
// starting and ending with a word character.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*[A-Za-z0-9_]$`) //nolint:gochecknoglobals // read-only

// reservedName cannot be used as a session name.
const reservedName = "from-template"

// checkName validates a session name.
func checkName(key, name string) error {
	if len(name) < 4 || len(name) > 64 || !nameRe.MatchString(name) {
		return functions.ErrInvalidAPIParams("Invalid session name.",
			map[string]string{key: "must be 4 to 64 letters, digits, '_', '.' or '-', starting and ending with a letter, digit or '_'"})
	}
	if name == reservedName {
		return functions.ErrInvalidAPIParams(fmt.Sprintf("The session name %q is reserved.", name), map[string]string{key: "reserved"})
	}
	return checkUUIDName(key, name)
}

// hostArch is the server's architecture in Backend.AI's spelling.
func hostArch() string { return normArch(runtime.GOARCH) }

// normArch maps architecture aliases to Backend.AI's names.
func normArch(a string) string {
	switch strings.ToLower(a) {
	case "amd64", "x64", "x86-64":
		return "x86_64"
	case "arm64", "aarch64":
		return "aarch64"
	case "x32", "i686", "386":
		return "x86"
	}
	return a
}

// parseStartsAt accepts an ISO 8601 time or a relative delay ("30m", "1h30m", "2d").
// maxStartsAtDays bounds a relative starts_at ("10d", "1d2h"), so that a huge delay cannot
// overflow into a start time in the past.
const maxStartsAtDays = 36500

func parseStartsAt(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	rest := s
	var total time.Duration
	if i := strings.Index(rest, "d"); i > 0 {
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return time.Time{}, err
		}
		if n < -maxStartsAtDays || n > maxStartsAtDays {
			return time.Time{}, fmt.Errorf("a delay of at most %d days", maxStartsAtDays)
		}
		total += time.Duration(n) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return time.Time{}, err
		}
		if d < -maxStartsAtDays*24*time.Hour || d > maxStartsAtDays*24*time.Hour {
			return time.Time{}, fmt.Errorf("a delay of at most %d days", maxStartsAtDays)
		}
		total += d // both parts are bounded, so the sum cannot overflow
	}
	return now.Add(total), nil
}

// defaultResources apply to intrinsic slots a request leaves out.
var defaultResources = map[string]string{"cpu": "1", "mem": "1073741824"} //nolint:gochecknoglobals // read-only

// normalizeResources turns config.resources into a slot map of every known slot (unknown slot
// → 400), fills cpu and mem left out or zero with the larger of the default and the image
// minimum, and refuses amounts below the image minimum. Amounts are read by slots.ParseValue
// under slots.Finite: finite, non-negative and within slots.Max (400 naming the slot).
func normalizeResources(in map[string]any, known map[string]string, imageResources json.RawMessage) (map[string]string, error) {
	raw := make(map[string]string, len(in))
	for k, v := range in {
		switch x := v.(type) {
		case string:
			raw[k] = x
		case float64:
			format := byte('f')
			if math.Abs(x) >= 1e21 {
				format = 'g' // a short string that the parser refuses as out of range
			}
			raw[k] = strconv.FormatFloat(x, format, -1, 64)
		case json.Number:
			raw[k] = x.String()
		case nil:
			raw[k] = "0"
		default:
			return nil, functions.ErrInvalidAPIParams("Invalid resource amount.", map[string]string{"config.resources." + k: "must be a number or a string"})
		}
	}
	norm, err := slots.NormalizeMap(raw, known, slots.Finite)
	if err != nil {
		var se *slots.SlotError
		if errors.As(err, &se) {
			if errors.Is(err, slots.ErrUnknownSlot) {
				return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("Unknown requested resource slot: %s", se.Slot),
					map[string]string{"config.resources." + se.Slot: "unknown resource slot"})
			}
			return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("Invalid amount %q for resource slot %s.", se.Value, se.Slot),
				map[string]string{"config.resources." + se.Slot: err.Error()})
		}
		return nil, functions.ErrInvalidAPIParams("Invalid resources.", nil)
	}
	mins := imageMinimums(imageResources, known)
	out := make(map[string]string, len(known))
	for slot := range known {
		out[slot] = "0"
	}
	for slot, v := range norm {
		out[slot] = v
	}
	for slot, def := range defaultResources {
		if _, ok := known[slot]; !ok {
			continue
		}
		cur, _ := decimal.NewFromString(out[slot])
		if !cur.IsZero() {
			continue
		}
		d, _ := decimal.NewFromString(def)
		if m, ok := mins[slot]; ok && m.GreaterThan(d) {
			d = m
		}
		out[slot] = slots.Format(d)
	}
	for slot, m := range mins {
		if out[slot] == slots.Infinity {
			continue
		}
		cur, err := decimal.NewFromString(out[slot])
		if err == nil && cur.LessThan(m) {
			return nil, functions.ErrInvalidAPIParams(
				fmt.Sprintf("Your resource request is smaller than the minimum required by the image. (%s: %s < %s)", slot, out[slot], slots.Format(m)),
				map[string]string{"config.resources." + slot: "below the image minimum"})
		}
	}
	return out, nil
}

// imageMinimums reads {slot: {"min": amount}} from images.resources for known slots.
func imageMinimums(raw json.RawMessage, known map[string]string) map[string]decimal.Decimal {
	var spec map[string]struct {
		Min any `json:"min"`
	}
	out := map[string]decimal.Decimal{}
	if len(raw) == 0 || json.Unmarshal(raw, &spec) != nil {
		return out
	}
	for slot, r := range spec {
		typ, ok := known[slot]
		if !ok || r.Min == nil {
			continue
		}
		v := fmt.Sprint(r.Min)
		norm, err := slots.NormalizeValue(v, typ)
		if err != nil || norm == slots.Infinity {
			continue
		}
		if d, err := decimal.NewFromString(norm); err == nil {
			out[slot] = d
		}
	}
	return out
}

// scaleSlots multiplies every finite amount of m by n.
func scaleSlots(m map[string]string, n int) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		d, err := decimal.NewFromString(v)
		if err != nil {
			out[k] = v
			continue
		}
		out[k] = slots.Format(d.Mul(decimal.NewFromInt(int64(n))))
	}
	return out
}
