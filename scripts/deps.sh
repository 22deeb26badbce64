#!/usr/bin/env bash
# Installs the Debian packages Hangar's halfstack and agent need, only those missing.
# Safe to re-run; does nothing when everything is present.
set -euo pipefail

need=()
have_pg() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
have_pg || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
[ -f /usr/include/zmq.h ] || need+=(libzmq3-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# Bubblewrap: the process runtime runs every kernel in a bwrap sandbox of its own.
command -v bwrap >/dev/null 2>&1 || [ -x /usr/bin/bwrap ] || need+=(bubblewrap)
# The distribution registry (Docker Registry HTTP API v2) that the image rescan tests run on a
# loopback port of their own; the package's system service on :5000 is not used.
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
# Headless Chromium for the job dashboard's browser test (functions/dashboard).
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "deps: done"
