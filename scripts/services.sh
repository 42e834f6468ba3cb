# Throwaway PostgreSQL and Redis for tests and benchmarks. Source it, then call
# services_start (exports DATABASE_URL, REDIS_URL) and services_stop.
# PostgreSQL refuses to run as root, so as root it runs as the "postgres" user (PgBouncer too).
# pgbouncer_start (after services_start) puts PgBouncer in transaction pooling mode in front
# of that PostgreSQL (GH_PGBOUNCER_PORT; every database name is passed through).

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$GH_PG_USER" -- "$@"; else "$@"; fi
}

_pg_bin() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_need_root_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "error: $1 is not installed; install it (Debian: sudo apt-get install $2) and retry" >&2
    return 1
  fi
  echo "== installing $2"
  if [ -z "${_GH_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    _GH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# Debian's Chromium for the admin browser tests (Playwright drives it; no browser download).
browser_ensure() {
  if [ ! -x /usr/bin/chromium ]; then
    _need_root_install chromium chromium
  fi
}

services_start() {
  GH_SERVICES_DIR=$(mktemp -d /tmp/gatehouse-services.XXXXXX)
  chmod 755 "$GH_SERVICES_DIR"
  export GH_SERVICES_DIR

  # --- PostgreSQL
  GH_PG_BIN=$(_pg_bin)
  if [ -z "$GH_PG_BIN" ]; then
    _need_root_install initdb postgresql
    GH_PG_BIN=$(_pg_bin)
  fi
  GH_PG_USER=postgres
  if [ "$(id -u)" = 0 ] && ! id "$GH_PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home "$GH_PG_USER"
  fi
  GH_PG_DATA="$GH_SERVICES_DIR/pgdata"
  GH_PG_PORT=$(_free_port)
  mkdir -p "$GH_PG_DATA"
  [ "$(id -u)" = 0 ] && chown "$GH_PG_USER" "$GH_PG_DATA" "$GH_SERVICES_DIR"
  _as_pg "$GH_PG_BIN/initdb" -D "$GH_PG_DATA" -U gatehouse --auth=trust -E UTF8 --no-locale >"$GH_SERVICES_DIR/initdb.log" 2>&1 \
    || { cat "$GH_SERVICES_DIR/initdb.log" >&2; return 1; }
  GH_PG_OPTS="-c listen_addresses=127.0.0.1 -p $GH_PG_PORT -k $GH_SERVICES_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  _as_pg "$GH_PG_BIN/pg_ctl" -D "$GH_PG_DATA" -o "$GH_PG_OPTS" -l "$GH_SERVICES_DIR/postgres.log" -w start >/dev/null \
    || { cat "$GH_SERVICES_DIR/postgres.log" >&2; return 1; }
  _as_pg "$GH_PG_BIN/createdb" -h 127.0.0.1 -p "$GH_PG_PORT" -U gatehouse gatehouse
  export GH_PG_BIN GH_PG_USER GH_PG_DATA GH_PG_PORT GH_PG_OPTS
  export DATABASE_URL="postgres://gatehouse@127.0.0.1:$GH_PG_PORT/gatehouse"

  # --- Redis
  if ! command -v redis-server >/dev/null 2>&1; then
    _need_root_install redis-server redis-server
  fi
  GH_REDIS_PORT=$(_free_port)
  export GH_REDIS_PORT
  redis_start
  export REDIS_URL="redis://127.0.0.1:$GH_REDIS_PORT/0"
  # Tests that need live servers check this instead of guessing.
  export GATEHOUSE_SERVICES=postgres,redis
}

_pgbouncer_bin() {
  command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }
}

# PgBouncer in transaction pooling mode in front of the throwaway PostgreSQL.
pgbouncer_start() {
  GH_PGBOUNCER_BIN=$(_pgbouncer_bin)
  if [ -z "$GH_PGBOUNCER_BIN" ]; then
    _need_root_install pgbouncer pgbouncer
    GH_PGBOUNCER_BIN=$(_pgbouncer_bin)
  fi
  # What the settings pass as a startup option on direct connections goes on the role:
  # PgBouncer refuses startup options (README, Scaling out).
  _as_pg "$GH_PG_BIN/psql" -q -h 127.0.0.1 -p "$GH_PG_PORT" -U gatehouse -d gatehouse \
    -c "ALTER ROLE gatehouse SET statement_timeout = '15s'" -c "ALTER ROLE gatehouse SET timezone = 'UTC'"
  GH_PGBOUNCER_PORT=$(_free_port)
  local dir="$GH_SERVICES_DIR/pgbouncer"
  mkdir -p "$dir"
  echo '"gatehouse" ""' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$GH_PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $GH_PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = gatehouse
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  local as_user=()
  if [ "$(id -u)" = 0 ]; then
    chown -R "$GH_PG_USER" "$dir"
    as_user=(-u "$GH_PG_USER")
  fi
  "$GH_PGBOUNCER_BIN" -d "${as_user[@]}" "$dir/pgbouncer.ini" >"$dir/start.log" 2>&1 \
    || { cat "$dir/start.log" "$dir/pgbouncer.log" >&2; return 1; }
  for _ in $(seq 50); do
    if _as_pg "$GH_PG_BIN/psql" -h 127.0.0.1 -p "$GH_PGBOUNCER_PORT" -U gatehouse -d gatehouse -Atqc 'SELECT 1' \
      >/dev/null 2>&1; then
      export GH_PGBOUNCER_PORT
      return 0
    fi
    sleep 0.1
  done
  echo "error: pgbouncer did not start" >&2
  cat "$dir/pgbouncer.log" >&2
  return 1
}

redis_start() {
  redis-server --port "$GH_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$GH_SERVICES_DIR/redis.pid" --logfile "$GH_SERVICES_DIR/redis.log" \
    --dir "$GH_SERVICES_DIR"
  for _ in $(seq 50); do
    redis-cli -p "$GH_REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: redis-server did not start" >&2
  return 1
}

services_stop() {
  [ -n "${GH_SERVICES_DIR:-}" ] || return 0
  if [ -n "${GH_PG_DATA:-}" ] && [ -f "$GH_PG_DATA/postmaster.pid" ]; then
    _as_pg "$GH_PG_BIN/pg_ctl" -D "$GH_PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -f "$GH_SERVICES_DIR/pgbouncer/pgbouncer.pid" ]; then
    kill "$(cat "$GH_SERVICES_DIR/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
  fi
  if [ -f "$GH_SERVICES_DIR/redis.pid" ]; then
    kill "$(cat "$GH_SERVICES_DIR/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$GH_SERVICES_DIR" 2>/dev/null || { sleep 1; rm -rf "$GH_SERVICES_DIR"; }
}
