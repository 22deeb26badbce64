package minilang_test

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hangar-run/hangar/internal/minilang"
)

// sqlWords is everything CompileFilter may write besides the table's columns and placeholders.
var sqlWords = regexp.MustCompile(`^(AND|OR|NOT|IS|NULL|TRUE|FALSE|IN|LIKE|ILIKE|CAST|AS|text|timestamptz|numeric|boolean|` + //nolint:gochecknoglobals // test constant
	`EXISTS|SELECT|1|FROM|unnest|item|WHERE|'SCHEDULED'|->>|=|<>|<|<=|>|>=|\(|\)|,)$`)

var placeholder = regexp.MustCompile(`\$[0-9]+`) //nolint:gochecknoglobals // test constant

// FuzzCompileFilter: no input panics, and whatever compiles uses only the table's columns,
// SQL keywords and placeholders numbered from the caller's offset, one per bound value.
func FuzzCompileFilter(f *testing.F) {
	for _, seed := range []string{
		`a==1 & b==2 | c==3`, `!a==1 & b==2`, `(a==1 & b==2) | c==3`, `status in ["running","PENDING"]`,
		`name contains "50%"`, `name == "say \"hi\""`, `tags == "gpu"`, `scheduled_at >= "2024-03-01"`,
		`a is null`, `a isnot true`, `a == null`, `created_at < "2024-03-01T00:00:00+09:00"`, `a <= -1.5`,
		`name ilike "%x_"`, `a in []`, `id == "9b4b0e51-3a36-4c8e-9f1a-2f0c2c7e8a11"`, `((a==1))`,
		`a == 1e3`, `name == '1'`, "name == \"\x00\"", `a in [1,[2]]`, `!!!a==1`, `a == 1 & | b == 2`,
	} {
		f.Add(seed, 0)
	}
	fields := testFields()
	cols := make([]string, 0, len(fields))
	for _, fl := range fields {
		cols = append(cols, fl.Column)
	}
	sort.Slice(cols, func(i, j int) bool { return len(cols[i]) > len(cols[j]) })
	f.Fuzz(func(t *testing.T, expr string, offset int) {
		if offset < 0 || offset > 1000 {
			offset = 0
		}
		args := minilang.Args{N: offset}
		sql, err := minilang.CompileFilter(expr, fields, &args)
		if err != nil {
			if _, ok := minilang.AsError(err); !ok || !strings.HasPrefix(err.Error(), "Query filter parsing error: ") {
				t.Fatalf("%q: error of the wrong kind: %v", expr, err)
			}
			if args.N != offset || len(args.Values) != 0 {
				t.Fatalf("%q: args changed on error", expr)
			}
			return
		}
		if strings.TrimSpace(expr) == "" {
			if sql != "" {
				t.Fatalf("%q: empty filter compiled to %q", expr, sql)
			}
			return
		}
		if !strings.HasPrefix(sql, "(") || !strings.HasSuffix(sql, ")") {
			t.Fatalf("%q: not parenthesised: %q", expr, sql)
		}
		if args.N != offset+len(args.Values) {
			t.Fatalf("%q: N=%d after %d values from %d", expr, args.N, len(args.Values), offset)
		}
		// Placeholders are exactly offset+1 … N, each once.
		seen := map[string]bool{}
		for _, p := range placeholder.FindAllString(sql, -1) {
			n, _ := strconv.Atoi(p[1:])
			if n <= offset || n > args.N || seen[p] {
				t.Fatalf("%q: bad placeholder %s in %q", expr, p, sql)
			}
			seen[p] = true
		}
		if len(seen) != len(args.Values) {
			t.Fatalf("%q: %d placeholders for %d values", expr, len(seen), len(args.Values))
		}
		rest := placeholder.ReplaceAllString(sql, " ")
		for _, c := range cols {
			rest = strings.ReplaceAll(rest, c, " ")
		}
		rest = strings.NewReplacer("(", " ( ", ")", " ) ", ",", " , ").Replace(rest)
		for _, w := range strings.Fields(rest) {
			if !sqlWords.MatchString(w) {
				t.Fatalf("%q: unexpected %q in %q", expr, w, sql)
			}
		}
	})
}
