#!/usr/bin/env bash
# Fails when openapi/ (the documents and the generated SDK) is stale against the code.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/hangar openapi --out "$tmp"
stale=0
for f in openapi.yaml openapi.json openapi-3.0.yaml openapi-3.0.json; do
  if ! diff -q "$tmp/$f" "openapi/$f" >/dev/null 2>&1; then
    echo "verify: openapi/$f is stale; run \`go tool task generate\`" >&2
    stale=1
  fi
done
sed "s#^output: .*#output: $tmp/sdk.gen.go#" openapi/sdk/oapi-codegen.yaml > "$tmp/cfg.yaml"
go -C tools tool oapi-codegen -config "$tmp/cfg.yaml" "$tmp/openapi-3.0.yaml"
if ! diff -q "$tmp/sdk.gen.go" openapi/sdk/sdk.gen.go >/dev/null 2>&1; then
  echo "verify: openapi/sdk/sdk.gen.go is stale; run \`go tool task generate\`" >&2
  stale=1
fi
exit $stale
