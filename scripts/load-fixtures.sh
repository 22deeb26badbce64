#!/usr/bin/env bash
# Loads the project's example fixtures (Backend.AI format) in the canonical order. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
./bin/hangar fixture populate --examples
