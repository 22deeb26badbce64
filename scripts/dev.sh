#!/usr/bin/env bash
# `go tool task dev`: applies the schema and example fixtures, then runs the API (:8081), a
# worker and one agent with the process runtime (RPC :6001, kernels in .halfstack/scratches) in
# the foreground with their logs. Ctrl-C stops them; the halfstack stays up until
# `go tool task halfstack:down`.
set -euo pipefail
cd "$(dirname "$0")/.."

HANGAR=./bin/hangar
$HANGAR schema oneshot
bash scripts/load-fixtures.sh

pids=()
stop() {
  trap - INT TERM
  echo
  echo "dev: stopping api, worker and agent (the halfstack stays up; \`go tool task halfstack:down\` stops it)"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit 0
}
trap stop INT TERM

run() { # name cmd...
  local name=$1; shift
  ( exec "$@" 2>&1 | (trap '' INT; exec sed -u "s/^/[$name] /") ) &
  pids+=($!)
}

run api $HANGAR api
run worker $HANGAR worker
# The agent reads ./agent.toml when there is one; otherwise these defaults: process runtime, the
# host's CPUs and memory, scaling group "default".
mkdir -p .halfstack/scratches
HANGAR_AGENT_RUNTIME=${HANGAR_AGENT_RUNTIME:-process} HANGAR_SCRATCH_ROOT=${HANGAR_SCRATCH_ROOT:-.halfstack/scratches} \
  run agent ./bin/hangar-agent

# Wait for the API to answer before printing how to call it.
for _ in $(seq 1 250); do
  if (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null; then break; fi
  sleep 0.02
done

cat <<'MSG'

  Hangar is up.
    API:        http://127.0.0.1:8081   (Backend.AI API v8.20240315; docs at http://127.0.0.1:8081/docs)
    superadmin: access key AKIAIOSFODNN7EXAMPLE   secret key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
    user:       access key AKIANABBDUSEREXAMPLE   secret key C8qnIo29EZvXkPK_MXcuAakYTy4NYrxwmCEyNPlf
    jobs:       http://127.0.0.1:8081/jobs/   (job dashboard; sign in as admin@lablup.com, password wJalrXUt)
    metrics:    http://127.0.0.1:9100/metrics (API), :9101 (worker), :9102 (agent)
    halfstack:  PostgreSQL 127.0.0.1:8100 (user postgres, password develove), Redis 127.0.0.1:8110
                (password develove), etcd 127.0.0.1:8120 (no auth unless HALFSTACK_ETCD_AUTH=1)

  Try a signed call:
    ./bin/hangar request GET /manager/status
  Run Python in a session (signed with the superadmin keys, the default of `hangar request`):
    ./bin/hangar request POST /session '{"image":"python","name":"hello","maxWaitSeconds":30}'
    ./bin/hangar request POST /session/hello '{"mode":"query","runId":"r1","code":"print(6*7)"}'
    ./bin/hangar request DELETE /session/hello
    ./bin/hangar request GET /admin/users --access-key AKIAIOSFODNN7EXAMPLE --secret-key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
  Backend.AI's Python client works too:
    export BACKEND_ENDPOINT=http://127.0.0.1:8081 BACKEND_ENDPOINT_TYPE=api \
           BACKEND_ACCESS_KEY=AKIAIOSFODNN7EXAMPLE BACKEND_SECRET_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

  Ctrl-C stops the API, the worker and the agent.

MSG
wait
