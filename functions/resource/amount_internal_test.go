package resource

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func mustAmount(t *testing.T, s string) amount {
	t.Helper()
	a, err := parseAmount(s)
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
		_, err := parseAmount(in)
		require.Error(t, err, in)
	}

	inf, one, two := mustAmount(t, "Infinity"), mustAmount(t, "1"), mustAmount(t, "2")
	require.Equal(t, "Infinity", inf.sub(two).String())
	require.Equal(t, "-1", one.sub(two).String())
	require.Equal(t, "-Infinity", one.sub(inf).String())
	require.Equal(t, "0", inf.sub(inf).String())
	require.Equal(t, 1, inf.cmp(two))
	require.Equal(t, -1, one.cmp(inf))
	require.Equal(t, 0, inf.cmp(inf))
	require.Equal(t, "1", minAmount(inf, two, one).String())
}

func TestSlotMap(t *testing.T) {
	t.Parallel()
	known := map[string]string{"cpu": "count", "mem": "bytes", "gpu": "count"}
	m, err := parseSlots([]byte(`{"cpu": "2", "mem": 1024, "x": "5", "n": null}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "0"}, m.normalized(known).toJSON())
	_, err = parseSlots([]byte(`{"cpu": true}`))
	require.Error(t, err)
	empty, err := parseSlots(nil)
	require.NoError(t, err)
	require.Empty(t, empty)

	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "Infinity"}, fromPolicy(m, true, known).toJSON())
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1024", "gpu": "0"}, fromPolicy(m, false, known).toJSON())

	room := slotMap{"cpu": mustAmount(t, "2"), "mem": mustAmount(t, "1024")}
	require.True(t, room.covers(slotMap{"cpu": mustAmount(t, "2")}))
	require.True(t, room.covers(slotMap{"cpu": mustAmount(t, "1"), "gpu": zero}))
	require.False(t, room.covers(slotMap{"gpu": mustAmount(t, "0.5")}))
	require.False(t, room.covers(slotMap{"mem": mustAmount(t, "1025")}))
	require.True(t, slotMap{"cpu": unlimited}.covers(slotMap{"cpu": mustAmount(t, "1e9")}))
	require.False(t, slotMap{"cpu": mustAmount(t, "-1")}.covers(slotMap{}))
}
