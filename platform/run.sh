#!/usr/bin/env bash
# The embedded run: one process, no PostgreSQL or Redis needed.
#   setup → manage.py migrate → manage.py seed_demo (prints the demo logins and API token;
#   idempotent) → manage.py runserver 127.0.0.1:${PORT:-8000}
# DATABASE_URL and REDIS_URL are unset on purpose: SQLite (db.sqlite3, or $SQLITE_PATH) and
# Celery tasks executed in-process right after each commit.
set -euo pipefail
# shellcheck source=platform/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CADRE_ROOT"

bash "$CADRE_ROOT/platform/setup.sh"
PY="$CADRE_ROOT/.venv/bin/python"

unset DATABASE_URL REDIS_URL
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-cadre.settings}"
PORT="${PORT:-8000}"

"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo

log "Cadre on http://127.0.0.1:$PORT/ (Ctrl-C stops it)"
exec "$PY" manage.py runserver "127.0.0.1:$PORT"
