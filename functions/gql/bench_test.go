package gql_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// BenchmarkComputeSessionList100 is one signed page of 100 sessions (two containers each) with
// the fields of the CLI's `ps` plus the containers' occupied slots, as a superadmin sees it:
// the latency of a full page through HTTP, authentication, the resolvers and PostgreSQL.
func BenchmarkComputeSessionList100(b *testing.B) {
	env := functionstest.New(b)
	for i := range 100 {
		seedSession(b, env, user.AccessKey, fmt.Sprintf("bench-%03d", i), `{"cpu": "1", "mem": "1073741824"}`, `{"cpu": "1", "mem": "1073741824"}`)
	}
	doc := `query($limit:Int!, $offset:Int!, $status: String) {
  compute_session_list(limit:$limit, offset:$offset, status:$status) {
    items { name access_key id group_name main_kernel_id image type status status_info status_changed result
            occupying_slots containers { id agent status occupied_slots } }
    total_count } }`
	req := body(doc, `{"status": "RUNNING", "limit": 100, "offset": 0}`)
	res := env.Do(b, http.MethodPost, "/admin/gql", req, sa)
	if res.Status != http.StatusOK || len(res.Body) < 100*200 {
		b.Fatalf("page: %d %.300s", res.Status, res.Body)
	}
	for b.Loop() {
		env.Do(b, http.MethodPost, "/admin/gql", req, sa)
	}
}
