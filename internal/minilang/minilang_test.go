package minilang_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/minilang"
)

// testFields is a small table in the shape of the GraphQL lists' tables.
func testFields() minilang.Fields {
	return minilang.Fields{
		"a":            {Column: "t.a"},
		"b":            {Column: "t.b"},
		"c":            {Column: "t.c"},
		"name":         {Column: "t.name"},
		"status":       {Column: "t.status", Convert: minilang.EnumNames("RUNNING", "PENDING")},
		"permission":   {Column: "t.perm", Convert: minilang.EnumNames("READ_ONLY", "READ_WRITE", "RW_DELETE")},
		"tags":         {Column: "t.tags", Array: true, OrderExpr: "t.tags"},
		"scheduled_at": {Column: "t.history", JSONKey: "SCHEDULED", Convert: minilang.Timestamp},
		"created_at":   {Column: "t.created_at", Convert: minilang.Timestamp},
		"id":           {Column: "t.id", Convert: minilang.UUID},
		"size":         {Column: "t.size", Convert: minilang.AsInt},
		"group_name":   {Column: "g.name", OrderExpr: "lower(g.name)"},
		"cur_size":     {Column: "t.cur_size", NoFilter: true},
		"startup":      {Column: "t.startup", NoOrder: true},
		"flag":         {Column: "t.flag", Bool: true},
		"active":       {Column: "t.active", Convert: minilang.AsBool},
		"flags":        {Column: "t.flags", Array: true, Bool: true},
	}
}

func compile(t *testing.T, expr string) (string, []any, error) {
	t.Helper()
	args := minilang.Args{}
	sql, err := minilang.CompileFilter(expr, testFields(), &args)
	return sql, args.Values, err
}

func TestCompileFilter(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expr string
		sql  string
		args []any
	}{
		// No precedence: & and | group to the right.
		{`a==1 & b==2 | c==3`, `((t.a = $1) AND ((t.b = $2) OR (t.c = $3)))`, []any{int64(1), int64(2), int64(3)}},
		{`a==1 | b==2 & c==3`, `((t.a = $1) OR ((t.b = $2) AND (t.c = $3)))`, []any{int64(1), int64(2), int64(3)}},
		{`(a==1 & b==2) | c==3`, `(((t.a = $1) AND (t.b = $2)) OR (t.c = $3))`, []any{int64(1), int64(2), int64(3)}},
		{`a==1 & b==2 & c==3`, `((t.a = $1) AND (t.b = $2) AND (t.c = $3))`, []any{int64(1), int64(2), int64(3)}},
		// ! covers the whole expression to its right.
		{`!a==1 & b==2`, `(NOT ((t.a = $1) AND (t.b = $2)))`, []any{int64(1), int64(2)}},
		{`a==1 & !b==2 | c==3`, `((t.a = $1) AND (NOT ((t.b = $2) OR (t.c = $3))))`, []any{int64(1), int64(2), int64(3)}},
		{`!(a==1) & b==2`, `(NOT ((t.a = $1) AND (t.b = $2)))`, []any{int64(1), int64(2)}},
		{`(!a==1) & b==2`, `((NOT (t.a = $1)) AND (t.b = $2))`, []any{int64(1), int64(2)}},
		{`((a == 1))`, `(t.a = $1)`, []any{int64(1)}},
		// Operators.
		{`a != 1`, `(t.a <> $1)`, []any{int64(1)}},
		{`a > -1.5`, `(t.a > $1)`, []any{-1.5}},
		{`a >= +2`, `(t.a >= $1)`, []any{int64(2)}},
		{`a < .5`, `(t.a < $1)`, []any{0.5}},
		{`a <= 1.5e3`, `(t.a <= $1)`, []any{1500.0}},
		{`a == true`, `(t.a = $1)`, []any{true}},
		{`a is null`, `(t.a IS NULL)`, nil},
		{`a isnot null`, `(t.a IS NOT NULL)`, nil},
		{`flag is true`, `(t.flag IS TRUE)`, nil},
		{`flag isnot false`, `(t.flag IS NOT FALSE)`, nil},
		{`active is false`, `(t.active IS FALSE)`, nil},
		{`active isnot true`, `(t.active IS NOT TRUE)`, nil},
		{`flags is true`, `(EXISTS (SELECT 1 FROM unnest(t.flags) AS item WHERE item IS TRUE))`, nil},
		{`active == false`, `(t.active = $1)`, []any{false}},
		{`status is null`, `(t.status IS NULL)`, nil},
		{`a == null`, `(t.a IS NULL)`, nil},
		{`a != null`, `(t.a IS NOT NULL)`, nil},
		{`name contains "50%_x\y"`, `(CAST(t.name AS text) LIKE $1)`, []any{`%50\%\_x\\y%`}},
		{`name like "a%_"`, `(CAST(t.name AS text) LIKE $1)`, []any{`a%_`}},
		{`name ilike "A%"`, `(CAST(t.name AS text) ILIKE $1)`, []any{`A%`}},
		{`name in ["x", "y"]`, `(t.name IN ($1, $2))`, []any{"x", "y"}},
		{`name in []`, `(FALSE)`, nil},
		// Quoting: only \" is an escape; single quotes stay text inside a bind parameter.
		{`name == "say \"hi\""`, `(t.name = $1)`, []any{`say "hi"`}},
		{`name == "a\nb\\"`, `(t.name = $1)`, []any{`a\nb\\`}},
		{`name == "'; DROP TABLE t; --"`, `(t.name = $1)`, []any{`'; DROP TABLE t; --`}},
		{"name\n==\t\"x\"", `(t.name = $1)`, []any{"x"}},
		// Converters: enum names as given or uppercased, timestamps, uuids.
		{`status == "RUNNING"`, `(t.status = $1)`, []any{"RUNNING"}},
		{`status == "running"`, `(t.status = $1)`, []any{"RUNNING"}},
		{`status in ["running", "PENDING"]`, `(t.status IN ($1, $2))`, []any{"RUNNING", "PENDING"}},
		{`permission == "read_write"`, `(t.perm = $1)`, []any{"READ_WRITE"}},
		{`status is null`, `(t.status IS NULL)`, nil},
		{`created_at >= "2024-03-01T00:00:00+00:00"`, `(t.created_at >= $1)`, []any{ts}},
		{`created_at >= "2024-03-01T09:00:00+09:00"`, `(t.created_at >= $1)`, []any{ts.In(time.FixedZone("", 9*3600))}},
		{`created_at < "2024-03-01"`, `(t.created_at < $1)`, []any{ts}},
		{`created_at < "2024-03-01 00:00:00"`, `(t.created_at < $1)`, []any{ts}},
		{`id == "9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11"`, `(t.id = $1)`, []any{uuid.MustParse("9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11")}},
		// Array columns match if any element does; JSON keys compare the key's text.
		{`tags == "gpu"`, `(EXISTS (SELECT 1 FROM unnest(t.tags) AS item WHERE item = $1))`, []any{"gpu"}},
		{`tags in ["a", "b"]`, `(EXISTS (SELECT 1 FROM unnest(t.tags) AS item WHERE item IN ($1, $2)))`, []any{"a", "b"}},
		{`tags contains "x"`, `(EXISTS (SELECT 1 FROM unnest(t.tags) AS item WHERE CAST(item AS text) LIKE $1))`, []any{"%x%"}},
		{`tags is null`, `(t.tags IS NULL)`, nil},
		{`scheduled_at >= "2024-03-01T00:00:00Z"`, `(CAST((t.history ->> 'SCHEDULED') AS timestamptz) >= $1)`, []any{ts}},
		{`scheduled_at isnot null`, `((t.history ->> 'SCHEDULED') IS NOT NULL)`, nil},
		{`startup == "x"`, `(t.startup = $1)`, []any{"x"}},
	} {
		sql, args, err := compile(t, tc.expr)
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.sql, sql, tc.expr)
		if tc.args == nil {
			require.Empty(t, args, tc.expr)
			continue
		}
		require.Len(t, args, len(tc.args), tc.expr)
		for i := range args {
			if want, ok := tc.args[i].(time.Time); ok {
				require.True(t, want.Equal(args[i].(time.Time)), "%s: %v != %v", tc.expr, args[i], want)
				continue
			}
			require.Equal(t, tc.args[i], args[i], tc.expr)
		}
	}
}

func TestCompileFilterEmpty(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"", "   ", "\n\t"} {
		args := minilang.Args{N: 3}
		sql, err := minilang.CompileFilter(expr, testFields(), &args)
		require.NoError(t, err)
		require.Empty(t, sql)
		require.Equal(t, minilang.Args{N: 3}, args)
	}
}

func TestArgsContinueNumbering(t *testing.T) {
	t.Parallel()
	args := minilang.Args{N: 2}
	sql, err := minilang.CompileFilter(`a == 1 | name in ["x","y"]`, testFields(), &args)
	require.NoError(t, err)
	require.Equal(t, `((t.a = $3) OR (t.name IN ($4, $5)))`, sql)
	require.Equal(t, 5, args.N)
	require.Equal(t, []any{int64(1), "x", "y"}, args.Values)

	// A failing compile leaves args as it was, even after earlier conditions compiled.
	_, err = minilang.CompileFilter(`a == 1 & status == "nope"`, testFields(), &args)
	require.Error(t, err)
	require.Equal(t, 5, args.N)
	require.Len(t, args.Values, 3)
}

func TestCompileFilterErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr     string
		contains []string
		field    string
	}{
		{`status == RUNNING`, []string{`Unexpected token "RUNNING" at line 1, column 11`}, ""},
		{`name == 'x'`, []string{`Unexpected character '''`}, ""},
		{`foo == 1`, []string{"Error trying to process rule \"binary_expr\":\n\n('Unknown/unsupported field name', 'foo')"}, "foo"},
		{`a == 1 & foo == 1`, []string{"('Unknown/unsupported field name', 'foo')"}, "foo"},
		{`cur_size == 1`, []string{"('Unknown/unsupported field name', 'cur_size')"}, "cur_size"},
		{`status == "x"`, []string{"expected one of `RUNNING, PENDING` or lower names; got `x`"}, "status"},
		{`permission == "rw"`, []string{"expected one of `READ_ONLY, READ_WRITE, RW_DELETE` or lower names; got `rw`"}, "permission"},
		{`status == null`, nil, ""}, // allowed: IS NULL, checked in TestCompileFilter style below
		{`status in ["RUNNING", null]`, []string{"null cannot be compared with in"}, "status"},
		{`status == true`, []string{"expected one of `RUNNING, PENDING` or lower names; got `true`"}, "status"},
		{`created_at > "yesterday"`, []string{"ISO 8601", "yesterday"}, "created_at"},
		{`id == "nope"`, []string{"UUID", "nope"}, "id"},
		{`size == "1"`, []string{"expected an integer"}, "size"},
		{`a == 1e3`, []string{`Invalid number "1e3"`}, ""},
		{`a == 99999999999999999999`, []string{`Invalid number`}, ""},
		{`a == 1.0e999`, []string{`Invalid number`}, ""},
		{`a == 0x10`, []string{`Invalid number`}, ""},
		{`a in 1`, []string{"operator in takes an array"}, "a"},
		{`a == [1]`, []string{"takes a single value, not an array"}, "a"},
		{`a in [[1]]`, []string{`Unexpected token "["`}, ""},
		{`a in [1,]`, []string{`Unexpected token "]"`}, ""},
		{`a in [1`, []string{"Unexpected end of input"}, ""},
		{`name like 1`, []string{"operator like takes a double-quoted string"}, "name"},
		{`name contains null`, []string{"operator contains takes a double-quoted string"}, "name"},
		{`a > null`, []string{"null cannot be compared with >"}, "a"},
		{`a is 1`, []string{"operator is takes null, true or false"}, "a"},
		// is/isnot true/false only on boolean fields (a field of unknown type is not one).
		{`a is true`, []string{"operator is takes only null on field a, which is not boolean; got true"}, "a"},
		{`name isnot false`, []string{"operator isnot takes only null on field name, which is not boolean; got false"}, "name"},
		{`status is true`, []string{"field status, which is not boolean"}, "status"},
		{`created_at isnot true`, []string{"field created_at, which is not boolean"}, "created_at"},
		{`scheduled_at is false`, []string{"field scheduled_at, which is not boolean"}, "scheduled_at"},
		{`tags is true`, []string{"field tags, which is not boolean"}, "tags"},
		{`flag == true & size is true`, []string{"field size, which is not boolean"}, "size"},
		{`a = 1`, []string{"Unexpected character '='"}, ""},
		{`a isnull`, []string{`Unexpected token "isnull"`}, ""},
		{`a == 1 b == 2`, []string{`Unexpected token "b"`}, ""},
		{`a == 1 &`, []string{"Unexpected end of input"}, ""},
		{`(a == 1`, []string{"Unexpected end of input"}, ""},
		{`a == 1)`, []string{`Unexpected token ")"`}, ""},
		{`!`, []string{"Unexpected end of input"}, ""},
		{`()`, []string{`Unexpected token ")"`}, ""},
		{`name == "open`, []string{"Unterminated string"}, ""},
		{`name == "a\"`, []string{"Unterminated string"}, ""},
		{"name == \"a\x00\"", []string{"NUL character"}, ""},
		{"name == \"\xff\"", []string{"invalid UTF-8"}, ""},
		{`a == 1 & ü == 1`, []string{"Unexpected character 'ü' at line 1, column 10"}, ""},
	} {
		_, _, err := compile(t, tc.expr)
		if tc.contains == nil {
			require.NoError(t, err, tc.expr)
			continue
		}
		require.Error(t, err, tc.expr)
		require.True(t, strings.HasPrefix(err.Error(), "Query filter parsing error: "), err.Error())
		for _, c := range tc.contains {
			require.Contains(t, err.Error(), c, tc.expr)
		}
		var me *minilang.Error
		require.True(t, errors.As(err, &me), tc.expr)
		require.False(t, me.Order)
		require.Equal(t, tc.field, me.Field, tc.expr)
	}
}

// Hostile input is refused up front: bounded length, nesting and array size.
func TestCompileFilterLimits(t *testing.T) {
	t.Parallel()
	fields := testFields()
	refuse := func(expr, want string) {
		t.Helper()
		_, err := minilang.CompileFilter(expr, fields, &minilang.Args{})
		require.ErrorContains(t, err, want)
	}
	refuse(`name == "`+strings.Repeat("x", minilang.MaxLength)+`"`, "longer than 4096 bytes")
	refuse(strings.Repeat("(", 100)+"a==1"+strings.Repeat(")", 100), "nested deeper than 64")
	refuse(strings.Repeat("!", 100)+"a==1", "nested deeper than 64")
	refuse(strings.Repeat("a==1 & a==1 | ", 100)+"a==1", "nested deeper than 64")
	refuse("a in ["+strings.Repeat("1,", minilang.MaxArray)+"1]", "array longer than 1000")

	// Within the limits: a long chain of one operator is flat, not deep.
	args := minilang.Args{}
	sql, err := minilang.CompileFilter(strings.Repeat("a==1 & ", 500)+"a==1", fields, &args)
	require.NoError(t, err)
	require.Len(t, args.Values, 501)
	require.Equal(t, 500, strings.Count(sql, " AND "))
	args = minilang.Args{}
	_, err = minilang.CompileFilter("a in ["+strings.Repeat("1,", minilang.MaxArray-1)+"1]", fields, &args)
	require.NoError(t, err)
	require.Len(t, args.Values, minilang.MaxArray)
	_, err = minilang.CompileFilter(strings.Repeat("(", 60)+"a==1"+strings.Repeat(")", 60), fields, &minilang.Args{})
	require.NoError(t, err)
}

func TestCompileOrder(t *testing.T) {
	t.Parallel()
	fields := testFields()
	for _, tc := range []struct{ expr, want string }{
		{"", ""},
		{"  ", ""},
		{"a", "t.a ASC"},
		{"+a", "t.a ASC"},
		{"-a", "t.a DESC"},
		{"-created_at,+name", "t.created_at DESC, t.name ASC"},
		{" - created_at , name ", "t.created_at DESC, t.name ASC"},
		{"group_name", "lower(g.name) ASC"},
		{"tags", "t.tags ASC"},
		{"cur_size", "t.cur_size ASC"},
		{"-scheduled_at", "(t.history ->> 'SCHEDULED') DESC"},
	} {
		got, err := minilang.CompileOrder(tc.expr, fields)
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, got, tc.expr)
	}
	for _, tc := range []struct{ expr, contains, field string }{
		{"x", "Error trying to process rule \"col\":\n\n('Unknown/unsupported field name', 'x')", "x"},
		{"-a,startup", "('Unknown/unsupported field name', 'startup')", "startup"},
		{"a,", "Unexpected end of input", ""},
		{",a", `Unexpected character ","`, ""},
		{"a desc", `Unexpected character "d"`, ""},
		{"--a", `Unexpected character "-"`, ""},
		{"a;DROP", `Unexpected character ";"`, ""},
		{"a\x00", "NUL character", ""},
		{strings.Repeat("a,", minilang.MaxLength) + "a", "longer than 4096 bytes", ""},
	} {
		_, err := minilang.CompileOrder(tc.expr, fields)
		require.Error(t, err, tc.expr)
		require.True(t, strings.HasPrefix(err.Error(), "Query ordering parsing error: "), err.Error())
		require.Contains(t, err.Error(), tc.contains, tc.expr)
		me, ok := minilang.AsError(err)
		require.True(t, ok)
		require.True(t, me.Order)
		require.Equal(t, tc.field, me.Field, tc.expr)
	}
}

func TestConverters(t *testing.T) {
	t.Parallel()
	str := func(s string) minilang.Value { return minilang.Value{Kind: minilang.String, S: s, Raw: `"` + s + `"`} }

	conv := minilang.EnumNames("MODEL", "GENERAL", "ready")
	for in, want := range map[string]string{"MODEL": "MODEL", "model": "MODEL", "General": "GENERAL", "ready": "ready"} {
		got, err := conv(str(in))
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	_, err := conv(str("READY"))
	require.EqualError(t, err, "expected one of `MODEL, GENERAL, ready` or lower names; got `READY`")
	_, err = conv(minilang.Value{Kind: minilang.Null, Raw: "null"})
	require.EqualError(t, err, "expected one of `MODEL, GENERAL, ready` or lower names; got `null`")

	for _, in := range []string{"2024-03-01T00:00:00+00:00", "2024-03-01T00:00:00Z", "2024-03-01T00:00:00",
		"2024-03-01 00:00:00", "2024-03-01", "2024-03-01T09:00:00+09:00", "2024-03-01T09:00:00.000+0900", "2024-03-01T00:00"} {
		got, err := minilang.Timestamp(str(in))
		require.NoError(t, err, in)
		require.True(t, got.(time.Time).Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)), in)
	}
	for _, in := range []string{"", "yesterday", "2024-13-01", "1709251200"} {
		_, err := minilang.Timestamp(str(in))
		require.Error(t, err, in)
	}
	_, err = minilang.Timestamp(minilang.Value{Kind: minilang.Int, I: 1, Raw: "1"})
	require.Error(t, err)

	u, err := minilang.UUID(str("9B4B0E51-3A36-4C8E-9F1A-2F0C2C7E8A11"))
	require.NoError(t, err)
	require.Equal(t, uuid.MustParse("9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11"), u)
	_, err = minilang.UUID(minilang.Value{Kind: minilang.Int, I: 1, Raw: "1"})
	require.Error(t, err)

	i32, err := minilang.AsInt32(minilang.Value{Kind: minilang.Int, I: -5, Raw: "-5"})
	require.NoError(t, err)
	require.Equal(t, int32(-5), i32)
	_, err = minilang.AsInt32(minilang.Value{Kind: minilang.Int, I: 1 << 31, Raw: "2147483648"})
	require.ErrorContains(t, err, "got `2147483648`")

	f, err := minilang.AsFloat(minilang.Value{Kind: minilang.Int, I: 2, Raw: "2"})
	require.NoError(t, err)
	require.InDelta(t, 2.0, f, 0)
	_, err = minilang.AsBool(str("true"))
	require.Error(t, err)
	_, err = minilang.AsString(minilang.Value{Kind: minilang.Int, I: 2, Raw: "2"})
	require.Error(t, err)
}
