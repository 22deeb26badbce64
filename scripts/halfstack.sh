#!/usr/bin/env bash
# The development halfstack: PostgreSQL :8100, Redis :8110, etcd :8120 as plain local
# processes with their data under .halfstack/ (git-ignored).
#
#   scripts/halfstack.sh up      start what is not running (idempotent); a port that already
#                                answers is reused and left alone by `down`
#   scripts/halfstack.sh down    stop only what `up` started here
#   scripts/halfstack.sh status  say what runs
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${HANGAR_HALFSTACK_DIR:-$ROOT/.halfstack}
PG_PORT=${HANGAR_PG_PORT:-8100}
REDIS_PORT=${HANGAR_REDIS_PORT:-8110}
ETCD_PORT=${HANGAR_ETCD_PORT:-8120}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGDATA_DIR="$BASE/pg/data"
PGSOCK_DIR="$BASE/pg"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_port() { # name port seconds
  local i=0 limit=$(( $3 * 50 ))
  until port_open "$2"; do
    i=$((i + 1))
    if [ $i -gt $limit ]; then echo "halfstack: $1 did not come up on 127.0.0.1:$2 (see $BASE/$1/*.log)" >&2; return 1; fi
    sleep 0.02
  done
}

# PostgreSQL runs as the postgres user when we are root; if that user cannot reach the checkout
# (a parent folder closed to others), keep its data in a folder of its own under /var/tmp.
pg_dir_check() {
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -w "$BASE/pg" 2>/dev/null; then
    local alt="/var/tmp/hangar-halfstack-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; chown postgres:postgres "$alt"
    ln -sfn "$alt" "$BASE/pg/data-link"
    PGDATA_DIR="$alt/data"; PGSOCK_DIR="$alt"
  fi
}

pg_up() {
  if port_open "$PG_PORT"; then echo "postgresql: running on 127.0.0.1:$PG_PORT"; return; fi
  [ -n "$PGBIN" ] || { echo "halfstack: PostgreSQL binaries not found; run scripts/deps.sh" >&2; exit 1; }
  mkdir -p "$BASE/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$BASE/pg"; fi
  pg_dir_check
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >"$BASE/pg/initdb.log" 2>&1
    cat >>"$PGDATA_DIR/postgresql.conf" <<CONF
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGSOCK_DIR/pg.log" -w \
    -o "-p $PG_PORT -k $PGSOCK_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  touch "$BASE/pg/started-here"
  echo "postgresql: started on 127.0.0.1:$PG_PORT"
}

redis_up() {
  if port_open "$REDIS_PORT"; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; return; fi
  mkdir -p "$BASE/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$BASE/redis" \
    --daemonize yes --pidfile "$BASE/redis/redis.pid" --logfile "$BASE/redis/redis.log" --databases 64
  wait_port redis "$REDIS_PORT" 10
  touch "$BASE/redis/started-here"
  echo "redis: started on 127.0.0.1:$REDIS_PORT"
}

etcd_up() {
  if port_open "$ETCD_PORT"; then echo "etcd: running on 127.0.0.1:$ETCD_PORT"; return; fi
  mkdir -p "$BASE/etcd"
  setsid nohup etcd --name halfstack --data-dir "$BASE/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "halfstack=http://127.0.0.1:$ETCD_PEER_PORT" \
    --heartbeat-interval 10 --election-timeout 100 >"$BASE/etcd/etcd.log" 2>&1 </dev/null &
  echo $! >"$BASE/etcd/etcd.pid"
  wait_port etcd "$ETCD_PORT" 20
  touch "$BASE/etcd/started-here"
  echo "etcd: started on 127.0.0.1:$ETCD_PORT"
}

down() {
  if [ -f "$BASE/pg/started-here" ]; then
    if [ -L "$BASE/pg/data-link" ]; then PGDATA_DIR="$(readlink "$BASE/pg/data-link")/data"; fi
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
    rm -f "$BASE/pg/started-here"; echo "postgresql: stopped"
  fi
  if [ -f "$BASE/redis/started-here" ]; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$BASE/redis/started-here"; echo "redis: stopped"
  fi
  if [ -f "$BASE/etcd/started-here" ]; then
    kill "$(cat "$BASE/etcd/etcd.pid")" 2>/dev/null || true
    rm -f "$BASE/etcd/started-here"; echo "etcd: stopped"
  fi
}

status() {
  local rc=0
  for svc in "postgresql $PG_PORT pg" "redis $REDIS_PORT redis" "etcd $ETCD_PORT etcd"; do
    set -- $svc
    local owner="started by another process"
    [ -f "$BASE/$3/started-here" ] && owner="started here (data in $BASE/$3)"
    if port_open "$2"; then echo "$1: up on 127.0.0.1:$2, $owner"; else echo "$1: down (127.0.0.1:$2)"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) mkdir -p "$BASE"; pg_up; redis_up; etcd_up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
