package slots_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/slots"
)

func TestParseBinarySize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"0", "0"},
		{"1073741824", "1073741824"},
		{"1_000", "1000"},
		{"1g", "1073741824"},
		{"1G", "1073741824"},
		{"1.5g", "1610612736"},
		{"512m", "536870912"},
		{"2KiB", "2048"},
		{"2kb", "2048"},
		{"2k", "2048"},
		{"1gbytes", "1073741824"},
		{"1GiBytes", "1073741824"},
		{"100b", "100"},
		{"100bytes", "100"},
		{"1t", "1099511627776"},
		{"1p", "1125899906842624"},
		{"1e", "1152921504606846976"},
		{"1z", "1180591620717411303424"},
		{"1y", "1208925819614629174706176"},
		{".5k", "512"},
		{"1.0001k", "1024"}, // 1024.1024 truncated
		{"0.3k", "307"},     // 307.2 truncated
		{" 4g ", "4294967296"},
		{"4 g", "4294967296"},
		{"1_024m", "1073741824"},
	} {
		got, err := slots.ParseBinarySize(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, slots.Format(got), tc.in)
	}
}

func TestParseBinarySizeInfinity(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"inf", "INF", "Infinity", "infinite", " infinity "} {
		_, err := slots.ParseBinarySize(in)
		require.ErrorIs(t, err, slots.ErrInfinite, in)
		require.True(t, slots.IsInfinity(in), in)
	}
	require.False(t, slots.IsInfinity("1g"))
	require.False(t, slots.IsInfinity("infinityy"))
}

func TestParseBinarySizeErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "   ", "g", "kb", "b", "-1", "-1g", "+1g", "1.5", "1.", "1.5b", "1e3", "1x", "1gg",
		"100ib", "abc", "1,5g", "0x10", "1 2g", "NaN", "..5g", "1.2.3k",
	} {
		_, err := slots.ParseBinarySize(in)
		require.Error(t, err, "%q", in)
		require.False(t, errors.Is(err, slots.ErrInfinite), in)
	}
}

func TestParseCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"2", "2"},
		{"2.000", "2"},
		{"0.5", "0.5"},
		{"0.1234", "0.123"},
		{"0.0005", "0"},     // half to even
		{"0.0015", "0.002"}, // half to even
		{"0.0025", "0.002"}, // half to even
		{"1e3", "1000"},
		{"1_000", "1000"},
		{"10", "10"},
		{"1000000000000", "1000000000000"},
	} {
		got, err := slots.ParseCount(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, slots.Format(got), tc.in)
	}
	for _, in := range []string{"", "-1", "1g", "abc", "NaN", "inf", "100000000000000000000", "1e400"} {
		_, err := slots.ParseCount(in)
		require.Error(t, err, "%q", in)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1000000000000000000000000000000", slots.Format(decimal.New(1, 30)))
	require.Equal(t, "0.000001", slots.Format(decimal.New(1, -6)))
	require.Equal(t, "2", slots.Format(decimal.RequireFromString("2.000")))
	require.Equal(t, "0", slots.Format(decimal.Zero))
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	types := slots.Intrinsic()
	types["cuda.shares"] = slots.TypeCount
	types["cuda.device"] = slots.TypeUnique

	got, err := slots.Normalize(map[string]string{
		"cpu": "2.0", "mem": "4g", "cuda.shares": "0.5", "cuda.device": "1",
	}, types)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "4294967296", "cuda.shares": "0.5", "cuda.device": "1"}, got)

	got, err = slots.Normalize(map[string]string{"cpu": "Infinity", "mem": "inf"}, types)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": slots.Infinity, "mem": slots.Infinity}, got)

	got, err = slots.Normalize(nil, types)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)

	// The input is not modified.
	in := map[string]string{"mem": "1k"}
	_, err = slots.Normalize(in, types)
	require.NoError(t, err)
	require.Equal(t, "1k", in["mem"])
}

func TestNormalizeErrors(t *testing.T) {
	t.Parallel()
	types := slots.Intrinsic()
	_, err := slots.Normalize(map[string]string{"cpu": "1", "tpu.device": "1"}, types)
	var se *slots.SlotError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "tpu.device", se.Slot)
	require.ErrorIs(t, err, slots.ErrUnknownSlot)
	require.Contains(t, err.Error(), `"tpu.device"`)

	for _, tc := range []struct{ slot, value string }{
		{"mem", "1.5"},
		{"mem", "lots"},
		{"mem", "-1g"},
		{"cpu", "1g"},
		{"cpu", "-2"},
		{"cpu", ""},
	} {
		_, err := slots.Normalize(map[string]string{tc.slot: tc.value}, types)
		require.ErrorAs(t, err, &se, tc)
		require.Equal(t, tc.slot, se.Slot)
		require.Equal(t, tc.value, se.Value)
		require.NotErrorIs(t, err, slots.ErrUnknownSlot)
		require.Contains(t, err.Error(), tc.slot)
	}

	// With several bad slots, the first in name order is reported.
	_, err = slots.Normalize(map[string]string{"zzz": "1", "aaa": "1", "mem": "x"}, types)
	require.ErrorAs(t, err, &se)
	require.Equal(t, "aaa", se.Slot)
}
