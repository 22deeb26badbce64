package slots

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func mustAmount(t *testing.T, s string) Amount {
	t.Helper()
	a, err := ParseAmount(s)
	require.NoError(t, err)
	return a
}

func TestAmount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1": "1", "2.0": "2", "0.50": "0.5", "1e3": "1000", "1E21": "1000000000000000000000",
		"Infinity": "Infinity", "inf": "Infinity", "-Infinity": "-Infinity", " 7 ": "7",
	} {
		require.Equal(t, want, mustAmount(t, in).String(), in)
	}
	for _, in := range []string{"", "NaN", "abc", "1g"} {
		_, err := ParseAmount(in)
		require.Error(t, err, in)
	}

	inf, one, two := mustAmount(t, "Infinity"), mustAmount(t, "1"), mustAmount(t, "2")
	require.Equal(t, "Infinity", inf.Sub(two).String())
	require.Equal(t, "-1", one.Sub(two).String())
	require.Equal(t, "-Infinity", one.Sub(inf).String())
	require.Equal(t, "0", inf.Sub(inf).String())
	require.Equal(t, 1, inf.Cmp(two))
	require.Equal(t, -1, one.Cmp(inf))
	require.Equal(t, 0, inf.Cmp(inf))
	require.Equal(t, "1", Min(inf, two, one).String())
}

func TestSlotMap(t *testing.T) {
	t.Parallel()
	known := map[string]string{"cpu": "count", "mem": "bytes", "gpu": "count"}
	m, err := ParseMap([]byte(`{"cpu": "2", "mem": 1024, "x": "5", "n": null}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "0"}, m.Normalized(known).Strings())
	_, err = ParseMap([]byte(`{"cpu": true}`))
	require.Error(t, err)
	empty, err := ParseMap(nil)
	require.NoError(t, err)
	require.Empty(t, empty)

	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "Infinity"}, FromPolicy(m, true, known).Strings())
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "0"}, FromPolicy(m, false, known).Strings())

	room := Map{"cpu": mustAmount(t, "2"), "mem": mustAmount(t, "1024")}
	require.True(t, room.Covers(Map{"cpu": mustAmount(t, "2")}))
	require.True(t, room.Covers(Map{"cpu": mustAmount(t, "1"), "gpu": Zero}))
	require.False(t, room.Covers(Map{"gpu": mustAmount(t, "0.5")}))
	require.False(t, room.Covers(Map{"mem": mustAmount(t, "1025")}))
	require.True(t, Map{"cpu": Unlimited}.Covers(Map{"cpu": mustAmount(t, "1e9")}))
	require.False(t, Map{"cpu": mustAmount(t, "-1")}.Covers(Map{}))
}
