package auth

import (
	"net/http"
	"strings"
	"time"
)

// MaxSkew is how far the date header may be from the server clock. The
// bounds are exclusive.
const MaxSkew = 15 * time.Minute

// Date headers, in the order the manager consults them.
const (
	// DateHeader is the standard Date header, consulted first.
	DateHeader = "Date"
	// BackendAIDateHeader is used when Date is absent or empty.
	BackendAIDateHeader = "X-BackendAI-Date"
	// SornaDateHeader is the legacy fallback for X-BackendAI-Date.
	SornaDateHeader = "X-Sorna-Date"
)

// dateLayouts returns the layouts ParseDate tries, all interpreted in UTC
// when they carry no offset. Go's parser accepts a fractional second after
// the seconds field even when the layout does not show one.
func dateLayouts() []string {
	return []string{
		// ISO 8601 extended, 'T' or ' ' between date and time.
		"2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05Z0700",
		"2006-01-02T15:04:05Z07",
		"2006-01-02T15:04:05",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05Z0700",
		"2006-01-02 15:04:05 Z07:00",
		"2006-01-02 15:04:05 -0700",
		"2006-01-02 15:04:05 MST",
		"2006-01-02 15:04:05",
		"2006-01-02",
		// ISO 8601 basic.
		"20060102T150405Z0700",
		"20060102T150405Z07:00",
		"20060102T150405",
		// RFC 1123 / 822 / 850, ANSIC, Unix and Ruby dates.
		"Mon, _2 Jan 2006 15:04:05 MST",
		"Mon, _2 Jan 2006 15:04:05 -0700",
		"Mon, _2 Jan 2006 15:04:05 -0700 (MST)",
		"_2 Jan 2006 15:04:05 MST",
		"_2 Jan 2006 15:04:05 -0700",
		"Monday, _2-Jan-06 15:04:05 MST",
		"Mon Jan _2 15:04:05 2006",
		"Mon Jan _2 15:04:05 MST 2006",
		"Mon Jan _2 15:04:05 -0700 2006",
		"_2 Jan 06 15:04 MST",
		"_2 Jan 06 15:04 -0700",
	}
}

// zoneOffset returns the offset in seconds east of UTC of a common time zone
// abbreviation. Unknown abbreviations count as UTC, like a naive time.
func zoneOffset(abbr string) (int, bool) {
	const h = 3600
	switch abbr {
	case "UT", "UTC", "GMT", "Z", "WET":
		return 0, true
	case "EST":
		return -5 * h, true
	case "EDT":
		return -4 * h, true
	case "CST":
		return -6 * h, true
	case "CDT":
		return -5 * h, true
	case "MST":
		return -7 * h, true
	case "MDT":
		return -6 * h, true
	case "PST":
		return -8 * h, true
	case "PDT":
		return -7 * h, true
	case "CET", "WEST":
		return 1 * h, true
	case "CEST", "EET":
		return 2 * h, true
	case "EEST":
		return 3 * h, true
	case "HKT", "SGT", "AWST":
		return 8 * h, true
	case "KST", "JST":
		return 9 * h, true
	case "AEST":
		return 10 * h, true
	case "AEDT":
		return 11 * h, true
	default:
		return 0, false
	}
}

// ParseDate parses a date header value leniently, accepting the formats
// clients send: ISO 8601 with or without a fractional second and with an
// offset, "Z" or none (e.g. "2024-05-01T12:00:00.123456+00:00"), the basic
// form "20240501T120000Z", RFC 1123 ("Mon, 02 Jan 2006 15:04:05 GMT"),
// RFC 1123 with a numeric zone, RFC 850, ANSIC and RFC 3339 with
// nanoseconds. A value without an offset is taken as UTC.
//
// The result keeps the offset written in the header; it is not converted to
// UTC, because the signing key's YYYYMMDD comes from that local date. Zone
// abbreviations such as "EST" or "KST" get their usual offsets; unknown
// abbreviations count as UTC. Failure yields ReasonDateSync.
func ParseDate(raw string) (time.Time, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return time.Time{}, newError(ReasonDateSync, "no date header")
	}
	for _, layout := range dateLayouts() {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil {
			continue
		}
		// Parsing in UTC leaves an abbreviation such as "EST" as a zero
		// offset zone with that name; give known names their offsets.
		if name, off := t.Zone(); off == 0 && name != "" && name != "UTC" {
			if offset, ok := zoneOffset(name); ok && offset != 0 {
				y, mo, d := t.Date()
				hh, mm, ss := t.Clock()
				t = time.Date(y, mo, d, hh, mm, ss, t.Nanosecond(), time.FixedZone(name, offset))
			}
		}
		return t, nil
	}
	return time.Time{}, newError(ReasonDateSync, "cannot parse date "+quote(raw))
}

// CheckSkew reports ReasonDateSync unless now-MaxSkew < date < now+MaxSkew
// (both bounds exclusive).
func CheckSkew(date, now time.Time) error {
	if date.After(now.Add(-MaxSkew)) && date.Before(now.Add(MaxSkew)) {
		return nil
	}
	return newError(ReasonDateSync, "date "+date.Format(time.RFC3339Nano)+
		" is not within "+MaxSkew.String()+" of server time "+now.UTC().Format(time.RFC3339Nano))
}

// RawDate returns the date header value the manager signs and checks: Date
// when it is non-empty, otherwise X-BackendAI-Date when that header is
// present, otherwise X-Sorna-Date.
func RawDate(h http.Header) string {
	if v := h.Get(DateHeader); v != "" {
		return v
	}
	if vs := h.Values(BackendAIDateHeader); len(vs) > 0 {
		return vs[0]
	}
	return h.Get(SornaDateHeader)
}

// CheckDate runs the manager's date check on request headers: it picks the
// header with RawDate, parses it with ParseDate and checks it with
// CheckSkew against now. It returns the raw value and the parsed date,
// which Verify needs, or a ReasonDateSync error.
func CheckDate(h http.Header, now time.Time) (rawDate string, date time.Time, err error) {
	rawDate = RawDate(h)
	date, err = ParseDate(rawDate)
	if err != nil {
		return rawDate, time.Time{}, err
	}
	if err := CheckSkew(date, now); err != nil {
		return rawDate, date, err
	}
	return rawDate, date, nil
}

// FormatDate writes t the way the official Python client writes its Date
// header: ISO 8601 in UTC with a "+00:00" offset and microseconds, which are
// omitted when zero (e.g. "2024-05-01T12:00:00.123456+00:00").
func FormatDate(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000-07:00")
}
