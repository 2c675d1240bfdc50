#!/usr/bin/env bash
# Label Studio peer benchmark: the same "next task + annotate" workload as Cadre's bench/load.py,
# against Label Studio Community on its own throwaway PostgreSQL, under gunicorn.
#
#   bash bench/labelstudio/run.sh
#
# Steps: install label-studio==$LS_VERSION into $LS_VENV if missing; start a throwaway PostgreSQL
# (+ Redis, unused by LS) with platform/services.sh on other ports; create database labelstudio;
# migrate; create an admin + $ANNOTATORS annotators with API tokens (setup_ls.py); start gunicorn
# (core.wsgi:application, settings core.settings.label_studio, $WORKERS sync workers) on
# 127.0.0.1:$LS_PORT; for each run: a fresh project (two-choice config, maximum_annotations=1,
# $TASKS tasks imported through the API), load.py, then the DB's count of tasks annotated more than
# once. Everything started here is stopped on exit, whatever happens.
#
# Env knobs: LS_VERSION (1.23.2) LS_VENV (/tmp/ls-venv) LS_PORT (18080) CADRE_PG_PORT (55451)
# CADRE_REDIS_PORT (63811) WORKERS (4) TASKS (10000) RUNS ("32:60 8:30" = annotators:seconds)
# CLIENT_PY (<repo>/.venv/bin/python) OUT (bench/labelstudio/results)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LS_VERSION="${LS_VERSION:-1.23.2}"
LS_VENV="${LS_VENV:-/tmp/ls-venv}"
LS_PORT="${LS_PORT:-18080}"
WORKERS="${WORKERS:-4}"
TASKS="${TASKS:-10000}"
RUNS="${RUNS:-32:60 8:30}"
CLIENT_PY="${CLIENT_PY:-$REPO/.venv/bin/python}"
OUT="${OUT:-$HERE/results}"
export CADRE_PG_PORT="${CADRE_PG_PORT:-55451}" CADRE_REDIS_PORT="${CADRE_REDIS_PORT:-63811}"
export CADRE_VAR_DIR
CADRE_VAR_DIR="$(mktemp -d /tmp/ls-bench.XXXXXX)"
WORK="$CADRE_VAR_DIR"
chmod 755 "$WORK"  # the postgres user must reach its data dir inside
BASE="http://127.0.0.1:$LS_PORT"
log() { echo "[ls-bench] $*" >&2; }
cpu_busy_pct() {  # whole-machine CPU busy %, over 3 s, from /proc/stat
    local a b
    a=($(head -n 1 /proc/stat)); sleep 3; b=($(head -n 1 /proc/stat))
    awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN { n = split(a, x, " "); split(b, y, " ");
        for (i = 2; i <= n; i++) { t += y[i] - x[i]; if (i == 5 || i == 6) idle += y[i] - x[i] }
        printf "%.0f", t ? 100 * (t - idle) / t : 0 }'
}

GUNICORN_PID=""
cleanup() {
    set +e
    if [ -n "$GUNICORN_PID" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
        kill "$GUNICORN_PID"
        for _ in $(seq 1 100); do kill -0 "$GUNICORN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$GUNICORN_PID" 2>/dev/null
    fi
    bash "$REPO/platform/services.sh" stop >/dev/null 2>&1
    [ -f "$WORK/gunicorn.log" ] && mkdir -p "$OUT" && tail -n 200 "$WORK/gunicorn.log" >"$OUT/gunicorn.tail.log"
    rm -rf "$WORK"
    log "stopped everything"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. Label Studio in its own venv ----------------------------------------------------------
if ! "$LS_VENV/bin/python" -c "import label_studio, sys; sys.exit(label_studio.__version__ != '$LS_VERSION')" 2>/dev/null; then
    log "installing label-studio==$LS_VERSION into $LS_VENV (several minutes)"
    python3 -m venv "$LS_VENV"
    "$LS_VENV/bin/pip" install -q "label-studio==$LS_VERSION" gunicorn psycopg2-binary
fi
"$LS_VENV/bin/python" -c "import gunicorn, psycopg2" 2>/dev/null || "$LS_VENV/bin/pip" install -q gunicorn psycopg2-binary
LS_PKG="$("$LS_VENV/bin/python" -c 'import label_studio, os; print(os.path.dirname(label_studio.__file__))')"

# ---- 2. PostgreSQL ----------------------------------------------------------------------------
bash "$REPO/platform/services.sh" start >/dev/null
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$CADRE_PG_PORT" -U cadre -tAq)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE labelstudio"
log "PostgreSQL $("${PSQL[@]}" -d postgres -c 'SHOW server_version') on 127.0.0.1:$CADRE_PG_PORT, database labelstudio"

# ---- 3. Label Studio's environment (as its Docker image / docker-compose set it) ---------------
export DJANGO_SETTINGS_MODULE=core.settings.label_studio DJANGO_DB=default \
    POSTGRE_HOST=127.0.0.1 POSTGRE_PORT="$CADRE_PG_PORT" POSTGRE_NAME=labelstudio \
    POSTGRE_USER=cadre POSTGRE_PASSWORD="" \
    LABEL_STUDIO_BASE_DATA_DIR="$WORK/ls-data" DEBUG=false LOG_LEVEL=WARNING \
    LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
    SENTRY_DSN="" FRONTEND_SENTRY_DSN="" LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false
mkdir -p "$LABEL_STUDIO_BASE_DATA_DIR"
cd "$LS_PKG"
log "migrate"
"$LS_VENV/bin/python" manage.py migrate --noinput >"$WORK/migrate.log" 2>&1 || { tail -n 40 "$WORK/migrate.log" >&2; exit 1; }
MAXN=0
for r in $RUNS; do n="${r%%:*}"; [ "$n" -gt "$MAXN" ] && MAXN="$n"; done
PYTHONPATH="$LS_PKG" "$LS_VENV/bin/python" "$HERE/setup_ls.py" "$MAXN" "$WORK/tokens" >&2

# ---- 4. gunicorn ------------------------------------------------------------------------------
"$LS_VENV/bin/gunicorn" core.wsgi:application --chdir "$LS_PKG" --bind "127.0.0.1:$LS_PORT" \
    --workers "$WORKERS" --worker-class sync --threads 1 --timeout 120 --max-requests 5000 \
    --log-level warning >"$WORK/gunicorn.log" 2>&1 &
GUNICORN_PID=$!
for i in $(seq 1 120); do
    if "$CLIENT_PY" -c "import urllib.request,sys; urllib.request.urlopen('$BASE/version', timeout=5)" 2>/dev/null; then break; fi
    kill -0 "$GUNICORN_PID" 2>/dev/null || { tail -n 40 "$WORK/gunicorn.log" >&2; exit 1; }
    [ "$i" = 120 ] && { tail -n 40 "$WORK/gunicorn.log" >&2; log "gunicorn not up after 120 s"; exit 1; }
    sleep 1
done
log "label-studio $LS_VERSION under gunicorn ($WORKERS sync workers) on $BASE"

# ---- 5. runs ----------------------------------------------------------------------------------
mkdir -p "$OUT"
for r in $RUNS; do
    n="${r%%:*}"; secs="${r##*:}"
    pid="$("$CLIENT_PY" "$HERE/make_project.py" --base "$BASE" --token-file "$WORK/tokens/admin.token" \
        --tasks "$TASKS" --title "bench-$n" | tail -n 1)"
    # how busy the machine is just before the run (anything else running skews the figures)
    busy="$(cpu_busy_pct)"; log "c$n: CPU busy over the 3 s before the run: $busy %"
    "$CLIENT_PY" "$HERE/load.py" --base "$BASE" --project "$pid" --tokens "$WORK/tokens/tokens.txt" \
        --concurrency "$n" --duration "$secs" --max-annotations "$TASKS" --label "ls-$LS_VERSION-c$n" \
        --out "$OUT/c$n.json"
    # double assignment, from the database: tasks of this project with more than one annotation
    read -r multi total tasks_done <<<"$("${PSQL[@]}" -d labelstudio -F ' ' -c "
        SELECT (SELECT count(*) FROM (SELECT c.task_id FROM task_completion c JOIN task t ON t.id = c.task_id
                 WHERE t.project_id = $pid GROUP BY c.task_id HAVING count(*) > 1) m),
               (SELECT count(*) FROM task_completion c JOIN task t ON t.id = c.task_id WHERE t.project_id = $pid),
               (SELECT count(DISTINCT c.task_id) FROM task_completion c JOIN task t ON t.id = c.task_id WHERE t.project_id = $pid)")"
    log "c$n: DB: $total annotations on $tasks_done tasks; tasks annotated more than once: $multi"
    "$CLIENT_PY" - "$OUT/c$n.json" "$multi" "$total" "$tasks_done" "$LS_VERSION" "$WORKERS" "$busy" <<'PY'
import json, sys
p, multi, total, done, ver, workers, busy = sys.argv[1:]
d_busy = int(busy)
d = json.load(open(p))
d["db"] = {"tasks_annotated_more_than_once": int(multi), "annotations": int(total), "tasks_annotated": int(done)}
d["server"] = {"label_studio": ver, "gunicorn_workers": int(workers), "worker_class": "sync", "settings": "core.settings.label_studio"}
d["cpu_busy_before_pct"] = d_busy
json.dump(d, open(p, "w"), indent=2)
PY
done
log "results in $OUT"
