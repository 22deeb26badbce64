package lifecycle

import "time"

// FormatTime writes t as status_history (and every other timestamp in the lifecycle's JSON)
// records it: Backend.AI's, Python's datetime.isoformat() of an aware UTC datetime, such as
// "2024-03-15T12:34:56.123456+00:00", with the fraction left out when it is zero
// ("2024-03-15T12:34:56+00:00"). PostgreSQL's timestamptz input and Python's
// datetime.fromisoformat read both.
func FormatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Microsecond) != 0 {
		return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05") + "+00:00"
}

// HistoryEntry returns the status_history entry of a change to status at t: the object
// merged into the column.
func HistoryEntry(status string, t time.Time) map[string]string {
	return map[string]string{status: FormatTime(t)}
}
