#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for tests and local work, on 127.0.0.1 only.
#
#   platform/services.sh start    start both (no-op for what already runs); prints
#                                 DATABASE_URL=... and REDIS_URL=... on stdout and writes
#                                 them, with `export`, to $CADRE_VAR_DIR/services.env
#   platform/services.sh stop     stop both (pg_ctl stop -m fast; redis by its pid file)
#   platform/services.sh status   say what runs; exit 0 only when both run
#   platform/services.sh env      print the two URL lines without starting anything
#
# State lives in $CADRE_VAR_DIR (default: <repo>/var, git-ignored): var/pg/data, var/redis.
# Ports: CADRE_PG_PORT (54329), CADRE_REDIS_PORT (63799). Installs Debian's postgresql and
# redis-server with apt-get only when they are missing. Everything but the URL lines goes to stderr.
set -euo pipefail
# shellcheck source=platform/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT="${CADRE_PG_PORT:-54329}"
REDIS_PORT="${CADRE_REDIS_PORT:-63799}"
PG_DIR="$CADRE_VAR_DIR/pg"
# As root, the server runs as `postgres`, which must reach its data dir. A checkout under a
# private folder (/root/...) is out of its reach: keep the cluster in /tmp, at a path derived
# from the var dir so that start, stop and status all find the same one.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 \
    && ! runuser -u postgres -- test -x "$(dirname "$CADRE_VAR_DIR")" 2>/dev/null; then
    PG_DIR="${TMPDIR:-/tmp}/cadre-pg-$(printf '%s' "$CADRE_VAR_DIR" | cksum | cut -d' ' -f1)"
fi
PGDATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgresql.log"
REDIS_DIR="$CADRE_VAR_DIR/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
ENV_FILE="$CADRE_VAR_DIR/services.env"
DATABASE_URL="postgres://cadre@127.0.0.1:$PG_PORT/cadre"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

# ---- PostgreSQL ----------------------------------------------------------------------------
pg_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    return 1
}

ensure_pg_installed() {
    pg_bindir >/dev/null || apt_install postgresql
    pg_bindir >/dev/null || die "PostgreSQL installed but no /usr/lib/postgresql/<ver>/bin/pg_ctl found"
}

# Run a PostgreSQL server program as the owner of the data dir: `postgres` when we are root
# (PostgreSQL refuses to run as root), ourselves otherwise.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() {
    local bin
    bin="$(pg_bindir)" || return 1
    [ -f "$PGDATA/PG_VERSION" ] || return 1
    as_pg "$bin/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

pg_init() {
    local bin="$1"
    log "initdb $PGDATA"
    mkdir -p "$PG_DIR"
    rm -rf "$PGDATA"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user (the postgresql package creates it)"
        chown postgres:postgres "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" \
            || die "user postgres cannot write $PG_DIR (a parent folder it cannot enter?); set CADRE_VAR_DIR elsewhere"
    fi
    # The bootstrap superuser is `cadre`, so no separate createuser step is needed.
    as_pg "$bin/initdb" -D "$PGDATA" -U cadre -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    # Trust, but only over TCP from 127.0.0.1: no unix socket, no other address.
    as_pg tee "$PGDATA/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
EOF
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<EOF

# ---- cadre throwaway test cluster (platform/services.sh) ----
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

pg_start() {
    local bin
    ensure_pg_installed
    bin="$(pg_bindir)"
    if pg_running; then
        log "postgresql already running on 127.0.0.1:$PG_PORT"
        return 0
    fi
    [ -f "$PGDATA/PG_VERSION" ] || pg_init "$bin"
    if [ "$(cat "$PGDATA/PG_VERSION")" != "$(basename "$(dirname "$bin")")" ]; then
        log "data dir is from PostgreSQL $(cat "$PGDATA/PG_VERSION"); re-creating it for $(basename "$(dirname "$bin")")"
        pg_init "$bin"
    fi
    rm -f "$PGDATA/postmaster.pid"  # stale (pg_running said no server uses it)
    is_root && chown postgres:postgres "$PG_DIR" && touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
    if ! as_pg "$bin/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 30 -o "-p $PG_PORT" >/dev/null; then
        tail -n 20 "$PG_LOG" >&2 || true
        die "postgresql did not start on 127.0.0.1:$PG_PORT (port taken? see $PG_LOG)"
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U cadre -d postgres -tAq \
        -c "SELECT 1 FROM pg_database WHERE datname = 'cadre'" | grep -q 1; then
        "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U cadre cadre
    fi
    log "postgresql running on 127.0.0.1:$PG_PORT (data: $PGDATA)"
}

pg_stop() {
    local bin
    if ! bin="$(pg_bindir)" || [ ! -f "$PGDATA/PG_VERSION" ]; then return 0; fi
    if pg_running; then
        as_pg "$bin/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30 >/dev/null
        log "postgresql stopped"
    fi
}

# ---- Redis ---------------------------------------------------------------------------------
ensure_redis_installed() {
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server redis-tools
    fi
}

# alive PID: the process exists and is not a zombie (a daemon's parent is init, which may be
# slow to reap it: kill -0 alone would call a finished redis alive for a second or more).
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
    [ "$state" != Z ]
}

redis_pid() {  # prints the pid when our redis runs
    local pid
    [ -f "$REDIS_PID" ] || return 1
    pid="$(cat "$REDIS_PID" 2>/dev/null || true)"
    [ -n "$pid" ] && alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q redis || return 1
    echo "$pid"
}

redis_start() {
    ensure_redis_installed
    if redis_pid >/dev/null; then
        log "redis already running on 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_PID"
    redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --pidfile "$REDIS_PID" \
        --dir "$REDIS_DIR" --logfile "$REDIS_LOG" --save '' --appendonly no >&2
    local i
    for i in $(seq 1 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && redis_pid >/dev/null; then
            log "redis running on 127.0.0.1:$REDIS_PORT"
            return 0
        fi
        sleep 0.05
    done
    tail -n 20 "$REDIS_LOG" >&2 || true
    die "redis did not start on 127.0.0.1:$REDIS_PORT (port taken? see $REDIS_LOG)"
}

redis_stop() {
    local pid i
    pid="$(redis_pid)" || { rm -f "$REDIS_PID"; return 0; }
    kill "$pid"
    for i in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.02
    done
    if alive "$pid"; then
        log "redis $pid ignored SIGTERM for 5 s; SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$REDIS_PID"
    log "redis stopped"
}

# ---- commands ------------------------------------------------------------------------------
print_env() {
    echo "DATABASE_URL=$DATABASE_URL"
    echo "REDIS_URL=$REDIS_URL"
}

cmd="${1:-}"
case "$cmd" in
    start)
        mkdir -p "$CADRE_VAR_DIR"
        pg_start
        redis_start
        printf 'export DATABASE_URL=%s\nexport REDIS_URL=%s\n' "$DATABASE_URL" "$REDIS_URL" >"$ENV_FILE"
        print_env
        ;;
    stop)
        rc=0
        pg_stop || rc=1
        redis_stop || rc=1
        rm -f "$ENV_FILE"
        exit "$rc"
        ;;
    status)
        rc=0
        if pg_running; then log "postgresql: running on 127.0.0.1:$PG_PORT"; else log "postgresql: stopped"; rc=3; fi
        if pid="$(redis_pid)"; then log "redis: running on 127.0.0.1:$REDIS_PORT (pid $pid)"; else log "redis: stopped"; rc=3; fi
        exit "$rc"
        ;;
    env)
        print_env
        ;;
    *)
        echo "usage: $0 start|stop|status|env" >&2
        exit 2
        ;;
esac
