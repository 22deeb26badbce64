package template

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodePayload(t *testing.T) {
	t.Parallel()
	// JSON numbers keep integers exact; YAML scalars are typed as YAML types them.
	docs, err := decodePayload(`{"a": 1, "b": 1.5, "c": [true, null, "x"]}`)
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{"a": int64(1), "b": 1.5, "c": []any{true, nil, "x"}}}, docs)
	docs, err = decodePayload("a: 1\nb: 1.5\nc: [yes, ~, '2024-01-01', 2024-01-01]\n---\nd: x\n")
	require.NoError(t, err)
	require.Equal(t, []any{
		map[string]any{"a": int64(1), "b": 1.5, "c": []any{"yes", nil, "2024-01-01", "2024-01-01"}},
		map[string]any{"d": "x"},
	}, docs)

	// Aliases and merge keys expand; the mapping's own keys win over merged ones.
	docs, err = decodePayload("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\nref: *b\n")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"x": int64(1), "y": int64(3)}, docs[0].(map[string]any)["use"])
	require.Equal(t, map[string]any{"x": int64(1), "y": int64(2)}, docs[0].(map[string]any)["ref"])

	// Expansion, depth and key types are bounded.
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	_, err = decodePayload(bomb)
	require.ErrorContains(t, err, "Malformed payload")
	_, err = decodePayload("m: &m {<<: [*m]}\n")
	require.Error(t, err)
	_, err = decodePayload(strings.Repeat("[", 100) + strings.Repeat("]", 100))
	require.Error(t, err)
	_, err = decodePayload("? [a, b]\n: c\n")
	require.Error(t, err)
	_, err = decodePayload("a: .nan\n")
	require.Error(t, err)
}
