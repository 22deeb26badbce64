package adminpolicy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/adminpolicy"
)

// TestOperationsDocumented checks that every operation of the area is a superadmin operation
// tagged admin, with an id, a summary, and a documented 404 where it names an object.
func TestOperationsDocumented(t *testing.T) {
	t.Parallel()
	s := functions.NewServer(&functions.Deps{})
	adminpolicy.Register(s)
	ids := map[string]bool{}
	for path, item := range s.API().OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Patch, item.Delete} {
			if op == nil || path == "/" {
				continue
			}
			require.True(t, strings.HasPrefix(path, "/admin/"), path)
			require.NotEmpty(t, op.OperationID, path)
			require.False(t, ids[op.OperationID], "duplicate id %s", op.OperationID)
			ids[op.OperationID] = true
			require.NotEmpty(t, op.Summary, op.OperationID)
			require.Equal(t, []string{"admin"}, op.Tags, op.OperationID)
			require.Equal(t, []map[string][]string{{functions.SecurityScheme: {"superadmin"}}}, op.Security, op.OperationID)
			if strings.Contains(path, "{") {
				require.Contains(t, op.Responses, "404", op.OperationID)
			}
			if op.Method != http.MethodGet {
				require.Contains(t, op.Responses, "503", op.OperationID)
			}
		}
	}
	require.Len(t, ids, 34)
}
