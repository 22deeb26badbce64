package resource

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/functions"
)

// Usage reports (/resource/usage/month, /resource/usage/period) are computed from the kernel
// rows as Backend.AI computes them: allocations from a kernel's occupied_slots (cpu, mem,
// cuda.devices or cuda.shares), attached CUDA devices (model names, SMs, memory), shared memory
// from its resource_opts, and the used figures (cpu_used, mem_used, io_read, io_write,
// disk_used) from its last_stat with Backend.AI's metric paths. Dates are read and days counted
// in the shared configuration's config/system/timezone (UTC by default).

// timezoneKey is the shared configuration key of the time zone usage dates are read in.
const timezoneKey = "config/system/timezone"

// localZone is the configured time zone, UTC when unset or unknown.
func localZone(s *functions.Server) *time.Location {
	var name string
	if sh := s.Deps().Shared; sh != nil {
		name, _ = sh.Get(timezoneKey)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// badDate is the 400 of a date parameter that is not a date (or a range that is not allowed).
func badDate(key, why string) *functions.Problem {
	return functions.ErrInvalidAPIParams(why, map[string]string{key: why})
}

// allDigits reports whether s is exactly n ASCII digits.
func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseDay reads "YYYYMMDD" (or "YYYYMM" with layout "200601") as midnight in loc, refusing
// what Python's strptime refuses (year 0, month 13, 30 February, ...).
func parseDay(v, layout string, loc *time.Location) (time.Time, bool) {
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil || t.Year() < 1 {
		return time.Time{}, false
	}
	return t, true
}

// figures are one kernel's usage figures (Backend.AI's ResourceUsage of one kernel).
type figures struct {
	nfs             []string
	cpuAllocated    float64
	cpuUsed         float64
	memAllocated    int64
	memUsed         int64
	sharedMemory    int64
	diskUsed        int64
	ioRead          int64
	ioWrite         int64
	deviceType      []string
	smp             float64
	gpuMemAllocated float64
	gpuAllocated    float64
}

// kernelFigures computes the figures of a kernel from its JSON columns.
func kernelFigures(occupied, resourceOpts, attached, vfolderMounts, lastStat json.RawMessage) figures {
	var f figures
	slots := jsonObject(occupied)
	f.cpuAllocated = num(slots["cpu"])
	f.memAllocated = int64(num(slots["mem"]))
	if v, ok := slots["cuda.devices"]; ok {
		f.gpuAllocated = num(v)
	}
	if v, ok := slots["cuda.shares"]; ok {
		f.gpuAllocated = num(v)
	}
	f.sharedMemory = int64(num(jsonObject(resourceOpts)["shmem"]))
	if devs, ok := jsonObject(attached)["cuda"].([]any); ok {
		for _, d := range devs {
			dev, _ := d.(map[string]any)
			if name, ok := dev["model_name"].(string); ok && !slices.Contains(f.deviceType, name) {
				f.deviceType = append(f.deviceType, name)
			}
			data, _ := dev["data"].(map[string]any)
			f.smp += float64(int64(num(data["smp"])))
			f.gpuMemAllocated += float64(int64(num(data["mem"])))
		}
	}
	var mounts []any
	_ = json.Unmarshal(vfolderMounts, &mounts)
	for _, m := range mounts {
		if mm, ok := m.(map[string]any); ok {
			if p, ok := mm["host_path"].(string); ok && !slices.Contains(f.nfs, p) {
				f.nfs = append(f.nfs, p)
			}
		}
	}
	sort.Strings(f.nfs)
	sort.Strings(f.deviceType)
	stat := jsonObject(lastStat)
	f.cpuUsed = num(metric(stat, "cpu_used", "current"))
	f.memUsed = int64(num(metric(stat, "mem", "capacity")))
	f.diskUsed = int64(num(metric(stat, "io_scratch_size", "stats.max")))
	f.ioRead = int64(num(metric(stat, "io_read", "current")))
	f.ioWrite = int64(num(metric(stat, "io_write", "current")))
	return f
}

// jsonObject decodes a JSON object; anything else is an empty one.
func jsonObject(raw json.RawMessage) map[string]any {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// metric reads stat[name][field] (Backend.AI's nmget over a last_stat).
func metric(stat map[string]any, name, field string) any {
	m, ok := stat[name].(map[string]any)
	if !ok {
		return nil
	}
	return m[field]
}

// num reads a JSON number or a decimal string; anything else is 0.
func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		d, err := decimal.NewFromString(strings.TrimSpace(x))
		if err != nil {
			return 0
		}
		f, _ := d.Float64()
		return f
	}
	return 0
}

// pyTime writes a time as Python's str() of a UTC datetime: "2024-06-01 10:00:00.250000+00:00".
func pyTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

// pyDuration writes a duration as Python's str() of a timedelta: "1 day, 2:03:04.500000".
func pyDuration(d time.Duration) string {
	us := d.Microseconds()
	const day = int64(24 * time.Hour / time.Microsecond)
	days := us / day
	rem := us % day
	if rem < 0 {
		days--
		rem += day
	}
	secs, frac := rem/1e6, rem%1e6
	s := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		s += fmt.Sprintf(".%06d", frac)
	}
	if days != 0 {
		plural := "s"
		if days == 1 || days == -1 {
			plural = ""
		}
		s = fmt.Sprintf("%d day%s, %s", days, plural, s)
	}
	return s
}

// usedTime and usedDays are Backend.AI's used_time and used_days of a kernel: nil while it runs;
// the days count the calendar days it touched in loc.
func usedTime(created time.Time, terminated *time.Time) *string {
	if terminated == nil {
		return nil
	}
	s := pyDuration(terminated.Sub(created))
	return &s
}

func usedDays(created time.Time, terminated *time.Time, loc *time.Location) *int {
	if terminated == nil {
		return nil
	}
	day := func(t time.Time) int {
		y, m, d := t.In(loc).Date()
		return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	}
	n := day(*terminated) - day(created) + 1
	return &n
}

// pyRepr writes a status history as Python's str() of the dict (how Backend.AI's usage per
// period sends it): {'PENDING': '2024-06-01T10:00:00+00:00', ...}, in the order the statuses
// were entered.
func pyRepr(raw json.RawMessage) string {
	m := jsonObject(raw)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := fmt.Sprint(m[keys[i]]), fmt.Sprint(m[keys[j]])
		if a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyStr(k))
		b.WriteString(": ")
		switch v := m[k].(type) {
		case string:
			b.WriteString(pyStr(v))
		case nil:
			b.WriteString("None")
		case bool:
			if v {
				b.WriteString("True")
			} else {
				b.WriteString("False")
			}
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1e15 {
				b.WriteString(strconv.FormatInt(int64(v), 10))
			} else {
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
		default:
			j, _ := json.Marshal(v)
			b.Write(j)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// pyStr writes s as Python's repr() of a str.
func pyStr(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, "\"") {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
