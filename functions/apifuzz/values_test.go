package apifuzz_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// raw is literal JSON text, written as is: it carries what encoding/json cannot produce
// (1e400, invalid UTF-8 inside a string, a lone surrogate escape, a 1,000-deep nesting).
type raw string

// encode writes v as JSON: maps with sorted keys (so that a seed always gives the same bytes),
// raw values verbatim.
func encode(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case raw:
		buf.WriteString(string(x))
	case map[string]any:
		buf.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				buf.WriteByte(',')
			}
			encode(buf, k)
			buf.WriteByte(':')
			encode(buf, x[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			encode(buf, e)
		}
		buf.WriteByte(']')
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			panic(err) // the generator only builds encodable values
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
}

func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	encode(&buf, v)
	return buf.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hostile is a named hostile JSON value.
type hostile struct {
	name string
	v    any
	// text is the value as a query-string or form value.
	text string
}

func nested(depth int, open, closeWith string) raw {
	return raw(strings.Repeat(open, depth) + strings.Repeat(closeWith, depth))
}

const big = 64 << 10 // 64 KiB

// hostileValues are put in place of one field at a time. Their names make the failure
// summary readable.
func hostileValues() []hostile {
	digits := strings.Repeat("9", 1000)
	long := strings.Repeat("A", big)
	out := []hostile{
		{name: "null", v: raw("null"), text: "null"},
		{name: "true", v: true, text: "true"},
		{name: "false", v: false, text: "false"},
		{name: "zero", v: 0, text: "0"},
		{name: "negative", v: -1, text: "-1"},
		{name: "negative-zero", v: raw("-0"), text: "-0"},
		{name: "fraction", v: raw("1.5"), text: "1.5"},
		{name: "huge-1e400", v: raw("1e400"), text: "1e400"},
		{name: "huge-neg-1e400", v: raw("-1e400"), text: "-1e400"},
		{name: "huge-1e308", v: raw("1e308"), text: "1e308"},
		{name: "2^64", v: raw("18446744073709551616"), text: "18446744073709551616"},
		{name: "-2^63-1", v: raw("-9223372036854775809"), text: "-9223372036854775809"},
		{name: "1000-digits", v: raw(digits), text: digits},
		{name: "empty-string", v: "", text: ""},
		{name: "string-zero", v: "0", text: "0"},
		{name: "string-negative", v: "-1", text: "-1"},
		{name: "string-1e400", v: "1e400", text: "1e400"},
		{name: "string-NaN", v: "NaN", text: "NaN"},
		{name: "string-Infinity", v: "Infinity", text: "Infinity"},
		{name: "string-2^64", v: "18446744073709551616", text: "18446744073709551616"},
		{name: "string-true", v: "true", text: "true"},
		{name: "nul", v: "\x00", text: "\x00"},
		{name: "embedded-nul", v: "a\x00b", text: "a\x00b"},
		{name: "invalid-utf8", v: raw("\"\xff\xfe\""), text: "\xff\xfe"},
		{name: "invalid-utf8-mixed", v: raw("\"ab\xc3\x28cd\""), text: "ab\xc3\x28cd"},
		{name: "lone-surrogate", v: raw(`"\ud800"`), text: "\xed\xa0\x80"},
		{name: "control-chars", v: "\x01\x1b[31m\x7f\t\r\n", text: "\x01\x1b[31m\x7f"},
		{name: "rtl-override", v: "\u202egnp.exe", text: "\u202egnp.exe"},
		{name: "string-64KiB", v: long, text: long},
		{name: "traversal", v: "../../../../etc/passwd", text: "../../../../etc/passwd"},
		{name: "absolute-path", v: "/etc/passwd", text: "/etc/passwd"},
		{name: "sql-quote", v: "' OR '1'='1", text: "' OR '1'='1"},
		{name: "percent-ff", v: "%ff", text: "%ff"},
		{name: "backslashes", v: `..\..\a\b`, text: `..\..\a\b`},
		{name: "uuid-shaped", v: "00000000-0000-0000-0000-000000000000", text: "00000000-0000-0000-0000-000000000000"},
		{name: "emoji", v: "🚀🚀", text: "🚀🚀"},
		{name: "empty-array", v: []any{}, text: ""},
		{name: "array-of-null", v: []any{raw("null")}, text: "null"},
		{name: "mixed-array", v: []any{1, "a", map[string]any{}, raw("1e400")}, text: "1,a,{}"},
		{name: "array-5000", v: raw("[" + strings.TrimSuffix(strings.Repeat("1,", 5000), ",") + "]"), text: strings.TrimSuffix(strings.Repeat("1,", 5000), ",")},
		{name: "empty-object", v: map[string]any{}, text: "{}"},
		{name: "object", v: map[string]any{"a": map[string]any{"b": 1}}, text: `{"a":{"b":1}}`},
		{name: "object-nul-key", v: map[string]any{"\x00": "x", "k\x00": 1}, text: `{"\u0000":"x"}`},
		{name: "object-64KiB-key", v: map[string]any{long: 1}, text: long},
		{name: "deep-array-1000", v: nested(1000, "[", "]"), text: string(nested(1000, "[", "]"))},
		{name: "deep-object-1000", v: raw(strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)), text: "{"},
	}
	return out
}

// wholeBodies replace the entire request body.
func wholeBodies() []struct{ name, body string } {
	return []struct{ name, body string }{
		{"empty", ""},
		{"whitespace", " \n\t "},
		{"null", "null"},
		{"array", "[]"},
		{"string", `"x"`},
		{"number", "1e400"},
		{"true", "true"},
		{"unterminated", "{"},
		{"garbage", "\x00\xff\xfe garbage <xml/> \x01"},
		{"not-json", "key=value&a=b"},
		{"trailing-garbage", "{} x"},
		{"duplicate-keys", `{"a":1,"a":2}`},
		{"bom", "\xef\xbb\xbf{}"},
		{"deep-array-1000", string(nested(1000, "[", "]"))},
		{"deep-object-1000", strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)},
		{"invalid-utf8-key", "{\"\xff\":1}"},
		{"nul-key", `{"\u0000":1}`},
		{"string-64KiB", `"` + strings.Repeat("A", big) + `"`},
		{"huge-object", "{" + strings.TrimSuffix(strings.Repeat(`"k":1,`, 20000), ",") + "}"},
	}
}

// hostilePathValues stand for one path parameter; they are written into the path as they are
// (already escaped).
func hostilePathValues(r *rand.Rand) []struct{ name, value string } {
	return []struct{ name, value string }{
		{"percent-ff", "%ff"},
		{"percent-ff-fe", "%ff%fe"},
		{"nul", "%00"},
		{"embedded-nul", "a%00b"},
		{"dotdot-slash", "..%2f..%2fadmin%2fusers"},
		{"dotdot", ".."},
		{"dot", "."},
		{"encoded-dotdot", "%2e%2e"},
		{"overlong-slash", "%c0%af"},
		{"lone-surrogate", "%ed%a0%80"},
		{"space", "a%20b"},
		{"control", "%01%1b"},
		{"long-8KiB", strings.Repeat("a", 8<<10)},
		{"uuid-random", fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)},
		{"uuid-zero", "00000000-0000-0000-0000-000000000000"},
		{"uuid-upper", "DFA9DA54-4B28-432F-BE29-C0D680C7A412"},
		{"not-quite-uuid", "dfa9da54-4b28-432f-be29-c0d680c7a41"},
		{"number", "-1"},
		{"huge-number", "18446744073709551616"},
		{"sql-quote", "%27%20OR%20%271%27%3D%271"},
		{"emoji", "%F0%9F%9A%80"},
		{"underscore", "_"},
		{"at-sign", "@"},
	}
}

// hostileQueryValues are sent for one declared query parameter (encoded by url.Values).
func hostileQueryValues() []string {
	return []string{"-1", "0", "1e400", "18446744073709551616", "-9223372036854775809", "abc", "\xff\xfe",
		"\x00", "", "true", "null", strings.Repeat("9", 1000), strings.Repeat("A", big), "1.5", "NaN", "[]", "{}"}
}
