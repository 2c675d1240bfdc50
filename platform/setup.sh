#!/usr/bin/env bash
# Idempotent install step: <repo>/.venv with Python 3.11 (or python3), and requirements.txt
# installed into it. pip runs only when requirements.txt (or the interpreter) changed since the
# last successful install: a stamp file inside .venv records that, so a repeat run takes ~0.1 s.
#
# Env: CADRE_PYTHON (interpreter used to create the venv), CADRE_VENV (default <repo>/.venv).
set -euo pipefail
# shellcheck source=platform/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV="${CADRE_VENV:-$CADRE_ROOT/.venv}"
REQ="$CADRE_ROOT/requirements.txt"
STAMP="$VENV/.cadre-requirements.sha256"

pick_python() {
    local c
    for c in "${CADRE_PYTHON:-}" python3.11 python3; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 \
            && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

make_venv() {
    local py
    py="$(pick_python)" || {
        if is_root && command -v apt-get >/dev/null 2>&1; then
            apt_install python3 python3-venv
            py="$(pick_python)" || die "no Python >= 3.11 found (tried python3.11, python3)"
        else
            die "no Python >= 3.11 found (tried python3.11, python3); set CADRE_PYTHON"
        fi
    }
    log "creating $VENV with $py ($("$py" --version 2>&1))"
    rm -rf "$VENV"
    if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 ships venv's ensurepip separately (python3-venv / python3.11-venv).
        rm -rf "$VENV"
        is_root || die "'$py -m venv' failed: install python3-venv (apt-get install python3-venv) and retry"
        log "'$py -m venv' failed; installing Debian's venv support"
        apt_install python3-venv  # depends on python3.11-venv, which carries ensurepip
        "$py" -m venv "$VENV" || { rm -rf "$VENV"; die "'$py -m venv $VENV' failed"; }
    fi
    venv_ok || { rm -rf "$VENV"; die "the new venv at $VENV has no working python/pip"; }
}

venv_ok || make_venv

want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
    log "pip install -r requirements.txt (into $VENV; a fresh venv takes a minute or two)"
    rm -f "$STAMP"
    pip_log="$VENV/.cadre-pip.log"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" >"$pip_log" 2>&1; then
        # (this machine's pip config lists extra indexes that print one 'is ignored' line per package)
        grep -v 'is ignored: it is neither a file nor a directory' "$pip_log" | tail -n 60 >&2
        die "pip install -r requirements.txt failed (full log: $pip_log)"
    fi
    echo "$want" >"$STAMP"
fi
