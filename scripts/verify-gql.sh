#!/usr/bin/env bash
# Fails when the gqlgen output under functions/gql (generated/, model/models_gen.go, the
# resolver files) is stale against the schema. gqlgen must run inside the module, so it
# regenerates in place and compares with a copy taken before; the tree is then put back as it
# was, so the check works on uncommitted trees too and never edits code.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a functions/gql "$tmp/before"
restore() { rm -rf functions/gql && cp -a "$tmp/before" functions/gql; }
if ! (cd functions/gql && go tool gqlgen --config gqlgen.yml); then
  restore
  echo "verify: gqlgen failed on functions/gql" >&2
  exit 1
fi
if ! diff -r -q "$tmp/before" functions/gql >"$tmp/diff"; then
  sed "s#$tmp/before#functions/gql#g" "$tmp/diff" >&2
  restore
  echo "verify: functions/gql is stale against its schema; run \`go tool task generate:gql\`" >&2
  exit 1
fi
