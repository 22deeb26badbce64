#!/usr/bin/env bash
# The development halfstack: PostgreSQL :8100, Redis :8110, etcd :8120 as plain local
# processes with their data under .halfstack/ (git-ignored).
#
#   scripts/halfstack.sh up      start what is not running (idempotent); a port that already
#                                answers is reused and left alone by `down`
#   scripts/halfstack.sh down    stop only what `up` started here
#   scripts/halfstack.sh status  say what runs
#
# Credentials (the defaults of internal/config, so Hangar and its tests need no configuration):
#   PostgreSQL  user postgres, password develove; every connection (TCP and the Unix socket)
#               authenticates with scram-sha-256, none is trusted
#   Redis       requirepass develove (the default user)
#   etcd        no authentication, unless HALFSTACK_ETCD_AUTH=1: then user root, password
#               develove, and auth enabled (set BACKEND_ETCD_USER/BACKEND_ETCD_PASSWORD and
#               TEST_ETCD_USER/TEST_ETCD_PASSWORD to match)
# `up` also converts a halfstack made before passwords existed: it sets the PostgreSQL
# password and rewrites pg_hba.conf (then reloads), and sets Redis's requirepass at run time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${HANGAR_HALFSTACK_DIR:-$ROOT/.halfstack}
PG_PORT=${HANGAR_PG_PORT:-8100}
REDIS_PORT=${HANGAR_REDIS_PORT:-8110}
ETCD_PORT=${HANGAR_ETCD_PORT:-8120}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGDATA_DIR="$BASE/pg/data"
# Keep these in step with internal/config (DefaultDBPassword, DefaultRedisPassword).
PG_PASSWORD=develove
REDIS_PASSWORD=develove
ETCD_ROOT_PASSWORD=develove
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

# psql over TCP as postgres, never prompting; pass PGPASSWORD in the environment.
pg_sql() { "${PGBIN:-/usr/bin}/psql" -X -w -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# pg_nopass_ok reports whether PostgreSQL lets postgres in over TCP without a password.
pg_nopass_ok() { PGPASSWORD= PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 pg_sql -c 'SELECT 1' >/dev/null 2>&1; }

# pg_secure makes every connection authenticate with the password: a server still trusting
# connections (a halfstack made before passwords) gets the password set, its pg_hba.conf
# rewritten and its configuration reloaded. Connections already open stay open. Idempotent.
pg_secure() {
  local trusting out
  if ! out=$(PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 pg_sql -c "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method IN ('trust', 'peer', 'ident')" 2>&1); then
    echo "halfstack: PostgreSQL on 127.0.0.1:$PG_PORT refused user postgres with the halfstack password: $(echo "$out" | head -1)" >&2
    exit 1
  fi
  trusting=$out
  # A rewritten pg_hba.conf that was never reloaded still lets password-less logins in.
  if [ "$trusting" = 0 ] && ! pg_nopass_ok; then return; fi
  local hba
  hba=$(PGPASSWORD=$PG_PASSWORD pg_sql -c 'SHOW hba_file')
  PGPASSWORD=$PG_PASSWORD pg_sql -c "ALTER ROLE postgres PASSWORD '$PG_PASSWORD'" >/dev/null
  cat <<'HBA' | as_pg tee "$hba" >/dev/null
# Written by scripts/halfstack.sh: every connection authenticates with a password.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
HBA
  PGPASSWORD=$PG_PASSWORD pg_sql -c 'SELECT pg_reload_conf()' >/dev/null
  # The postmaster rereads pg_hba.conf on the signal; wait until a password-less login fails.
  local i=0
  while pg_nopass_ok; do
    i=$((i + 1))
    if [ $i -gt 250 ]; then echo "halfstack: PostgreSQL still accepts connections without a password after reload ($hba)" >&2; exit 1; fi
    sleep 0.02
  done
  echo "postgresql: password authentication enabled (user postgres)"
}

pg_up() {
  if port_open "$PG_PORT"; then echo "postgresql: running on 127.0.0.1:$PG_PORT"; pg_secure; return; fi
  [ -n "$PGBIN" ] || { echo "halfstack: PostgreSQL binaries not found; run scripts/deps.sh" >&2; exit 1; }
  mkdir -p "$BASE/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$BASE/pg"; fi
  pg_dir_check
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    local pwfile="$PGSOCK_DIR/initdb.pw"
    (umask 077; printf '%s\n' "$PG_PASSWORD" >"$pwfile")
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$pwfile"; fi
    as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 --no-locale --no-sync >"$BASE/pg/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$BASE/pg/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
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
  pg_secure
}

# redis_secure makes a running Redis require the password: one that answers without it (a
# halfstack made before passwords) gets requirepass set at run time; clients already
# connected stay authenticated. Idempotent.
redis_secure() {
  local out
  out=$(env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>&1 || true)
  case "$out" in
    PONG)
      env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$REDIS_PORT" CONFIG SET requirepass "$REDIS_PASSWORD" >/dev/null
      echo "redis: requirepass enabled" ;;
    NOAUTH*) ;;
    *) echo "halfstack: Redis on 127.0.0.1:$REDIS_PORT answered PING with: $out" >&2; exit 1 ;;
  esac
  out=$(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>&1 || true)
  if [ "$out" != PONG ]; then
    echo "halfstack: Redis on 127.0.0.1:$REDIS_PORT refuses the halfstack password: $out" >&2
    exit 1
  fi
}

redis_up() {
  if port_open "$REDIS_PORT"; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; redis_secure; return; fi
  mkdir -p "$BASE/redis"
  # The password goes through the configuration read from standard input, not the command
  # line, which every local user can read in /proc.
  printf 'requirepass %s\n' "$REDIS_PASSWORD" | redis-server - --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$BASE/redis" \
    --daemonize yes --pidfile "$BASE/redis/redis.pid" --logfile "$BASE/redis/redis.log" --databases 64 2>"$BASE/redis/start.log"
  wait_port redis "$REDIS_PORT" 10
  touch "$BASE/redis/started-here"
  echo "redis: started on 127.0.0.1:$REDIS_PORT"
  redis_secure
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

# etcd_auth (HALFSTACK_ETCD_AUTH=1) creates the root user and enables authentication.
# Idempotent: an etcd whose auth is already on is only checked.
etcd_auth() {
  local ctl=(env ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_PORT" --dial-timeout 5s)
  if "${ctl[@]}" user list >/dev/null 2>&1; then
    "${ctl[@]}" user get root >/dev/null 2>&1 || "${ctl[@]}" user add "root:$ETCD_ROOT_PASSWORD" >/dev/null
    "${ctl[@]}" user grant-role root root >/dev/null 2>&1 || true
    "${ctl[@]}" auth enable >/dev/null
    echo "etcd: authentication enabled (user root)"
  fi
  if ! "${ctl[@]}" --user "root:$ETCD_ROOT_PASSWORD" user list >/dev/null 2>&1; then
    echo "halfstack: etcd on 127.0.0.1:$ETCD_PORT refuses user root with the halfstack password" >&2
    exit 1
  fi
}

down() {
  if [ -f "$BASE/pg/started-here" ]; then
    if [ -L "$BASE/pg/data-link" ]; then PGDATA_DIR="$(readlink "$BASE/pg/data-link")/data"; fi
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
    rm -f "$BASE/pg/started-here"; echo "postgresql: stopped"
  fi
  if [ -f "$BASE/redis/started-here" ]; then
    REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
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
  up)
    mkdir -p "$BASE"; pg_up; redis_up; etcd_up
    if [ "${HALFSTACK_ETCD_AUTH:-0}" = 1 ]; then etcd_auth; fi ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
