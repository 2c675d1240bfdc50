# Shared helpers for the platform/*.sh scripts. Sourced, never run.
# (This folder is not a Python package: never add an __init__.py here, see DESIGN.md.)

CADRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CADRE_VAR_DIR="${CADRE_VAR_DIR:-$CADRE_ROOT/var}"
export CADRE_ROOT CADRE_VAR_DIR

log() { printf '[cadre] %s\n' "$*" >&2; }
die() { printf '[cadre] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# apt_install PKG... : install Debian packages (root only), running `apt-get update` once per process.
_CADRE_APT_UPDATED=""
apt_install() {
    is_root || die "missing Debian package(s): $* — install them (apt-get install $*) or run as root"
    command -v apt-get >/dev/null 2>&1 || die "missing package(s) $* and no apt-get on this machine"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$_CADRE_APT_UPDATED" ]; then
        log "apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        _CADRE_APT_UPDATED=1
    fi
    log "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}
