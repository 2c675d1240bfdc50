#!/usr/bin/env bash
# The test command: platform/test.sh [pytest args...]
#
#   1. setup (venv + requirements, skipped when unchanged)
#   2. Debian's chromium for the Playwright browser tests, when /usr/bin/chromium is missing
#   3. PostgreSQL + Redis from platform/services.sh, exported as DATABASE_URL / REDIS_URL
#   4. makemigrations --check (models and migrations must not drift); when openapi.yaml is
#      committed, the generated schema must equal it (`make schema` rewrites it)
#   5. .venv/bin/python -m pytest "$@"
#   6. stops the services it started, whatever happened
#
# Exit code: pytest's (5, "no tests collected", is a failure too), or 1 if a step before failed.
# Test runs in one checkout take turns (a lock in var/): they share one database cluster.
# Services that were already running before this script (`make services-start`) are left running.
set -uo pipefail
# shellcheck source=platform/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CADRE_ROOT"

bash "$CADRE_ROOT/platform/setup.sh" || exit 1
PY="$CADRE_ROOT/.venv/bin/python"

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
    if is_root; then
        (apt_install chromium fonts-liberation) || exit 1
    else
        log "warning: $CHROMIUM is missing and we are not root: browser tests will fail (apt-get install chromium)"
    fi
fi
# For tests/conftest.py: launch Playwright with executable_path=$CADRE_CHROMIUM (no browser download).
export CADRE_CHROMIUM="$CHROMIUM"

mkdir -p "$CADRE_VAR_DIR"
exec 9>"$CADRE_VAR_DIR/test.lock"
if ! flock -n 9; then
    log "another test run in this checkout holds $CADRE_VAR_DIR/test.lock; waiting for it"
    flock 9
fi

started=""
cleanup() {
    local rc=$?
    if [ -n "$started" ]; then
        bash "$CADRE_ROOT/platform/services.sh" stop 9>&- || log "warning: services.sh stop failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 9>&-: the servers must not inherit the lock's descriptor (they would hold the lock forever).
if bash "$CADRE_ROOT/platform/services.sh" status 9>&- 2>/dev/null; then
    log "services were already running: leaving them running afterwards"
else
    started=1
fi
env_lines="$(bash "$CADRE_ROOT/platform/services.sh" start 9>&-)" || { log "could not start services"; exit 1; }
while IFS= read -r line; do
    case "$line" in
        DATABASE_URL=* | REDIS_URL=*) export "${line?}" ;;
    esac
done <<<"$env_lines"
[ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ] || { log "services.sh start printed no URLs"; exit 1; }
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-cadre.settings}"

log "manage.py makemigrations --check --dry-run"
if ! "$PY" manage.py makemigrations --check --dry-run; then
    log "FAILED: models and migrations differ; run: .venv/bin/python manage.py makemigrations"
    exit 1
fi

if [ -f openapi.yaml ]; then
    log "checking openapi.yaml against the generated schema"
    tmp_schema="$(mktemp)"
    if ! "$PY" manage.py spectacular --file "$tmp_schema" >/dev/null 2>"$tmp_schema.log"; then
        cat "$tmp_schema.log" >&2
        rm -f "$tmp_schema" "$tmp_schema.log"
        log "FAILED: manage.py spectacular failed"
        exit 1
    fi
    if ! diff -u openapi.yaml "$tmp_schema" >"$tmp_schema.diff"; then
        head -n 60 "$tmp_schema.diff" >&2
        rm -f "$tmp_schema" "$tmp_schema.log" "$tmp_schema.diff"
        log "FAILED: openapi.yaml is out of date with the API; run: make schema (and commit it)"
        exit 1
    fi
    rm -f "$tmp_schema" "$tmp_schema.log" "$tmp_schema.diff"
fi

log "pytest $*"
"$PY" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    log "FAILED: pytest collected no tests (exit 5)"
fi
exit "$rc"
