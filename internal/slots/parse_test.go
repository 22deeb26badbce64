package slots_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/slots"
)

// badAmounts are refused for every slot type and rule.
var badAmounts = []string{ //nolint:gochecknoglobals // test table
	"", " ", "NaN", "nan", "-0", "-1", "+1", "1e400", "1e308", "1E21", "abc", "0x10",
	"1\x00", "\x00", "1\n2", "\xff", "1,5", "1..2", "1e", "e3", "1e99999",
	strings.Repeat("9", 65), strings.Repeat("9", 400), "9" + strings.Repeat("0", 30),
	"-Infinity", "+inf",
}

func TestParseValueRefusesGarbage(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{slots.TypeCount, slots.TypeBytes, slots.TypeUnique} {
		for _, rule := range []slots.Rule{slots.Finite, slots.AllowInfinity} {
			for _, in := range badAmounts {
				_, err := slots.ParseValue(in, typ, rule)
				require.Error(t, err, "%q as %s", in, typ)
				_, err = slots.ParseStored(in, typ, rule)
				require.Error(t, err, "stored %q as %s", in, typ)
			}
		}
	}
}

func TestParseValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, typ, want string }{
		{"1", slots.TypeCount, "1"},
		{" 1", slots.TypeCount, "1"},
		{"0.5", slots.TypeCount, "0.5"},
		{".5", slots.TypeCount, "0.5"},
		{"1e3", slots.TypeCount, "1000"},
		{"1e-9999", slots.TypeCount, "0"},
		{"0.0015", slots.TypeCount, "0.002"},
		{"1_000", slots.TypeCount, "1000"},
		{"1000000000000", slots.TypeCount, "1000000000000"}, // MaxCountUnits
		{"1e12", slots.TypeCount, "1000000000000"},
		{"256m", slots.TypeBytes, "268435456"},
		{"1g", slots.TypeBytes, "1073741824"},
		{"8p", slots.TypeBytes, "9007199254740992"}, // MaxBytes
		{"9007199254740992", slots.TypeBytes, "9007199254740992"},
		{"0", slots.TypeBytes, "0"},
	} {
		a, err := slots.ParseValue(tc.in, tc.typ, slots.Finite)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, a.String(), tc.in)
	}
	for _, tc := range []struct{ in, typ string }{
		{"1000000000000.001", slots.TypeCount},
		{"1e13", slots.TypeCount},
		{"9p", slots.TypeBytes},
		{"9007199254740993", slots.TypeBytes},
		{"1e", slots.TypeBytes}, // an exbibyte
		{"1y", slots.TypeBytes},
	} {
		_, err := slots.ParseValue(tc.in, tc.typ, slots.Finite)
		require.ErrorIs(t, err, slots.ErrOutOfRange, tc.in)
	}
	// Binary sizes are for bytes slots; decimal exponents and fractions are not.
	for _, in := range []string{"1e3", "1.5"} {
		_, err := slots.ParseValue(in, slots.TypeBytes, slots.Finite)
		require.Error(t, err, in)
	}
	_, err := slots.ParseValue("1g", slots.TypeCount, slots.Finite)
	require.Error(t, err)
}

func TestParseValueInfinity(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"Infinity", "inf", "INFINITE", " infinity "} {
		for _, typ := range []string{slots.TypeCount, slots.TypeBytes} {
			_, err := slots.ParseValue(in, typ, slots.Finite)
			require.ErrorIs(t, err, slots.ErrNotFinite, in)
			a, err := slots.ParseValue(in, typ, slots.AllowInfinity)
			require.NoError(t, err, in)
			require.True(t, a.IsUnlimited())
			require.Equal(t, "Infinity", a.String())
		}
	}
}

func TestParseStored(t *testing.T) {
	t.Parallel()
	// Stored bytes amounts may be plain decimals: fractions are truncated.
	for in, want := range map[string]string{"1.9": "1", "1073741824.0": "1073741824", "1e3": "1000", "4g": "4294967296"} {
		a, err := slots.ParseStored(in, slots.TypeBytes, slots.Finite)
		require.NoError(t, err, in)
		require.Equal(t, want, a.String(), in)
	}
	_, err := slots.ParseStored("1e16", slots.TypeBytes, slots.Finite)
	require.ErrorIs(t, err, slots.ErrOutOfRange)
	_, err = slots.ParseStored("Infinity", slots.TypeBytes, slots.Finite)
	require.ErrorIs(t, err, slots.ErrNotFinite)
}

func TestNormalizeMapRule(t *testing.T) {
	t.Parallel()
	types := slots.Intrinsic()
	_, err := slots.NormalizeMap(map[string]string{"cpu": "inf"}, types, slots.Finite)
	var se *slots.SlotError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "cpu", se.Slot)
	require.ErrorIs(t, err, slots.ErrNotFinite)
	got, err := slots.NormalizeMap(map[string]string{"cpu": "inf", "mem": "1g"}, types, slots.AllowInfinity)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "Infinity", "mem": "1073741824"}, got)
	_, err = slots.Normalize(map[string]string{"cpu": "1e400"}, types)
	require.ErrorIs(t, err, slots.ErrOutOfRange)
}

func TestDecodeMap(t *testing.T) {
	t.Parallel()
	m, err := slots.DecodeMap([]byte(`{"cpu": 1e400, "mem": "256m", "x": null, "gpu": 0.5}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "1e400", "mem": "256m", "gpu": "0.5"}, m)
	for _, raw := range []string{`[]`, `"x"`, `{"cpu": true}`, `{"cpu": {"a": 1}}`, `{"cpu": "1"} {}`, `{"": "1"}`, `{`} {
		_, err := slots.DecodeMap([]byte(raw))
		require.Error(t, err, raw)
	}
	empty, err := slots.DecodeMap([]byte(" null "))
	require.NoError(t, err)
	require.Empty(t, empty)

	types := map[string]string{"cpu": slots.TypeCount}
	pm, err := slots.ParseStoredMap([]byte(`{"cpu": "2", "mem": 1073741824}`), types, slots.Finite)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "1073741824"}, pm.Strings())
	_, err = slots.ParseStoredMap([]byte(`{"cpu": "1e400"}`), types, slots.Finite)
	var se *slots.SlotError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "cpu", se.Slot)
}

// checkParsed holds for any amount ParseValue or ParseStored accepts.
func checkParsed(t *testing.T, in, typ string, rule slots.Rule, a slots.Amount) {
	t.Helper()
	if a.IsUnlimited() {
		if rule != slots.AllowInfinity || !slots.IsInfinity(in) {
			t.Fatalf("%q as %s: unlimited under rule %d", in, typ, rule)
		}
		return
	}
	d := a.Decimal()
	if d.IsNegative() || d.GreaterThan(slots.Max(typ)) {
		t.Fatalf("%q as %s: %s out of [0, %s]", in, typ, d, slots.Max(typ))
	}
	if typ == slots.TypeBytes && !d.Equal(d.Truncate(0)) {
		t.Fatalf("%q as bytes: fraction %s", in, d)
	}
	if typ != slots.TypeBytes && !d.Equal(d.Truncate(3)) {
		t.Fatalf("%q as count: more than three places %s", in, d)
	}
	// What is written back reads back the same.
	again, err := slots.ParseValue(a.String(), typ, slots.Finite)
	if err != nil || !again.Decimal().Equal(d) {
		t.Fatalf("%q as %s: %s does not read back: %v", in, typ, a, err)
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range append([]string{
		"1", "0.5", "1e3", "256m", "1g", "1.5g", "2KiB", "8p", "9p", "Infinity", "inf", "Inf",
		"NaN", "-0", "", " 1", "1e-9999", "1_000", "0.0015", "1e12", "1000000000000.0005",
		strings.Repeat("1", 20), strings.Repeat("9", 64), "1" + strings.Repeat("0", 2000),
	}, badAmounts...) {
		f.Add(s, uint8(0))
	}
	types := []string{slots.TypeCount, slots.TypeBytes, slots.TypeUnique}
	f.Fuzz(func(t *testing.T, in string, sel uint8) {
		typ := types[int(sel)%len(types)]
		rule := slots.Rule(int(sel/3) % 2)
		if a, err := slots.ParseValue(in, typ, rule); err == nil {
			checkParsed(t, in, typ, rule, a)
		} else if errors.Is(err, slots.ErrNotFinite) && rule != slots.Finite {
			t.Fatalf("%q: ErrNotFinite under AllowInfinity", in)
		}
		if a, err := slots.ParseStored(in, typ, rule); err == nil {
			checkParsed(t, in, typ, rule, a)
		}
	})
}

func FuzzDecodeMap(f *testing.F) {
	for _, s := range []string{
		`{"cpu": "1", "mem": "1g"}`, `{"cpu": 1e400}`, `{"cpu": "NaN"}`, `null`, ``, `[]`,
		`{"cpu": -0}`, `{"mem": 1e308}`, `{"\u0000": "1"}`, `{"cpu": "Infinity"}`,
		`{"cpu": 123456789012345678901234567890}`,
	} {
		f.Add([]byte(s))
	}
	types := map[string]string{"cpu": slots.TypeCount, "mem": slots.TypeBytes}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := slots.ParseStoredMap(raw, types, slots.Finite)
		if err != nil {
			return
		}
		for name, a := range m {
			if err := slots.CheckName(name); err != nil {
				t.Fatal(err)
			}
			typ := slots.GuessType(types, name)
			if a.IsUnlimited() || a.Decimal().IsNegative() || a.Decimal().GreaterThan(slots.Max(typ)) {
				t.Fatalf("slot %q: %s accepted", name, a)
			}
		}
	})
}

func TestMaxBoundsFitInt64Sums(t *testing.T) {
	t.Parallel()
	// A thousand maximal amounts, in the scheduler's units, still fit an int64.
	thousand := decimal.NewFromInt(1000)
	limit := decimal.NewFromInt(1<<63 - 1)
	require.True(t, slots.Max(slots.TypeBytes).Mul(thousand).LessThan(limit))
	require.True(t, slots.Max(slots.TypeCount).Shift(3).Mul(thousand).LessThan(limit))
}
