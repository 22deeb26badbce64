package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/api"
)

// TestDocumentCompleteness checks what SDK generation and operators rely on: every operation
// has an operationId, a summary, one tag, a security requirement (empty for public ones) and
// documented problem+json error responses, and none documents a 422 (validation is a 400).
func TestDocumentCompleteness(t *testing.T) {
	t.Parallel()
	doc := api.New(&functions.Deps{}).API().OpenAPI()
	ids := map[string]string{}
	count := 0
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{
			http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodDelete: item.Delete,
		} {
			if op == nil {
				continue
			}
			count++
			where := method + " " + path
			require.NotEmpty(t, op.OperationID, where)
			require.NotContains(t, ids, op.OperationID, "%s reuses the operationId of %s", where, ids[op.OperationID])
			ids[op.OperationID] = where
			require.NotEmpty(t, op.Summary, where)
			require.Len(t, op.Tags, 1, where)
			require.NotNil(t, op.Security, "%s has no security requirement", where)
			require.NotContains(t, op.Responses, "422", where)
			errs := 0
			for code, r := range op.Responses {
				n, err := strconv.Atoi(code)
				if err != nil || n < 400 {
					continue
				}
				errs++
				require.Contains(t, r.Content, "application/problem+json", "%s %s", where, code)
			}
			require.NotZero(t, errs, "%s documents no error response", where)
			if len(op.Security) > 0 {
				require.Contains(t, op.Responses, "401", where)
			}
		}
	}
	require.Greater(t, count, 60, "every area is registered")
}
