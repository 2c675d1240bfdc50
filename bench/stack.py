"""A throwaway production-like stack for benchmarks, all on 127.0.0.1: PostgreSQL + Redis of its own
(``platform/services.sh`` with ``CADRE_VAR_DIR=<tmp>`` on other ports), ``manage.py migrate``, real
gunicorn (``platform/gunicorn.conf.py``) and ``celery -A cadre worker`` processes.

Used by ``bench/load.py``, ``bench/faults.py`` and ``bench/latency.py`` (``throwaway_stack`` is the
start-up and the teardown they share); self-contained (no import from the other benchmarks)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def log(msg: str, tag: str = "bench") -> None:
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


class Services:
    def __init__(self, var_dir: Path, pg_port: int, redis_port: int):
        self.var_dir = var_dir
        self.env = dict(os.environ, CADRE_VAR_DIR=str(var_dir), CADRE_PG_PORT=str(pg_port), CADRE_REDIS_PORT=str(redis_port))
        self.pgdata: str | None = None
        self.urls: dict[str, str] = {}

    def script(self, cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ROOT / "platform" / "services.sh"), cmd], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, check=True)

    def start(self) -> None:
        out = self.script("start")
        for line in out.stdout.splitlines():
            k, _, v = line.partition("=")
            self.urls[k] = v
        m = re.search(r"data: ([^)]+)\)", out.stderr)
        if m:
            self.pgdata = m.group(1)

    def stop(self) -> None:
        self.script("stop")

    def root_pids(self) -> set[int]:
        """The throwaway postmaster and Redis (their children are found from them)."""
        pids = set()
        for f in ([Path(self.pgdata) / "postmaster.pid"] if self.pgdata else []) + [self.var_dir / "redis" / "redis.pid"]:
            try:
                pids.add(int(f.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        return pids

    def remove(self) -> None:
        shutil.rmtree(self.var_dir.parent, ignore_errors=True)
        # as root, services.sh keeps the cluster outside the var dir (/tmp/cadre-pg-<sum>)
        if self.pgdata and Path(self.pgdata).parent.name.startswith("cadre-pg-"):
            shutil.rmtree(Path(self.pgdata).parent, ignore_errors=True)


class Proc:
    """A child process in its own session (so its whole group can be signalled), logging to a file,
    started when ``ready`` appears in its log."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_dir: Path, ready: str, cwd: Path = ROOT):
        self.name = name
        self.log_file = log_dir / f"{name}.log"
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=open(self.log_file, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log_file.read_text()[-3000:]}")
            if ready in self.log_file.read_text(errors="replace"):
                return
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"{name} did not start:\n{self.log_file.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")


@dataclass
class Stack:
    """What ``throwaway_stack`` yields: the temporary directory, where processes log, the services,
    and the processes to stop at the end (append what you start)."""

    tmp: Path
    log_dir: Path
    svc: Services | None  # None: servers the benchmark did not start (bench/latency.py --use-running)
    procs: list[Proc] = field(default_factory=list)
    env: dict = field(default_factory=dict)  # set by the caller when it has no services of its own


@contextmanager
def throwaway_stack(prefix: str, pg_port: int, redis_port: int, *, keep: bool = False, services=Services,
                    tag: str = "bench"):
    """Start throwaway PostgreSQL + Redis (``services``: ``Services`` or a subclass) in a temporary
    directory; at the end, whatever happened: stop the processes in ``Stack.procs`` (SIGTERM to
    their groups), close this process's database connections, stop the services and remove the
    directory (``keep``: leave it, with the logs, and say where)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    log_dir = tmp / "logs"
    log_dir.mkdir()
    st = Stack(tmp, log_dir, services(tmp / "var", pg_port, redis_port))
    try:
        st.svc.start()
        log(f"services: {st.svc.urls} (data {st.svc.pgdata})", tag)
        yield st
    finally:
        for p in st.procs:
            p.stop(signal.SIGTERM)
        if "django" in sys.modules:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001 - Django may not be set up yet
                pass
        try:
            st.svc.stop()
        except Exception as exc:  # noqa: BLE001
            log(f"services stop failed: {exc}", tag)
        if keep:
            log(f"kept {tmp}", tag)
        else:
            st.svc.remove()


def migrate(env: dict) -> None:
    subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def django_setup(env: dict) -> None:
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], REDIS_URL=env["REDIS_URL"], LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="cadre.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def celery_worker(env: dict, log_dir: Path, *, concurrency: int = 2, name: str = "worker") -> Proc:
    return Proc(
        name,
        [PY, "-m", "celery", "-A", "cadre", "worker", "-l", "warning", "-c", str(concurrency), "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        dict(env, LOG_LEVEL="WARNING"), log_dir, ready="",
    )


def gunicorn(env: dict, log_dir: Path, *, port: int, workers: int, name: str = "gunicorn", extra_env: dict | None = None,
             cwd: Path = ROOT, args: list[str] | None = None) -> Proc:
    """``cwd``: the checkout whose code and gunicorn settings run (bench/web_ab.py compares two);
    ``args``: more gunicorn options."""
    web_env = dict(env, BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers), LOG_LEVEL="warning",
                   **(extra_env or {}))
    # No access log: at hundreds of requests a second, writing it is part of what would be measured.
    # BENCH_GUNICORN_ARGS: more gunicorn options, to measure one at a time (issue 9); GUNICORN_PROFILE_DIR:
    # the same settings with a cProfile of each worker (bench/gunicorn_profile.conf.py).
    conf = str(ROOT / "bench/gunicorn_profile.conf.py") if web_env.get("GUNICORN_PROFILE_DIR") else "platform/gunicorn.conf.py"
    if cwd != ROOT:
        web_env["PYTHONPATH"] = str(cwd)
    # GUNICORN_ACCESS_LOG=off (platform/gunicorn.conf.py): no access log at all, not even its formatting
    quiet = [] if web_env.get("GUNICORN_ACCESS_LOG") == "off" else ["--access-logfile", "/dev/null"]
    web = Proc(name, [PY, "-m", "gunicorn", "-c", conf, *quiet,
                      *shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", "")), *(args or []), "cadre.wsgi:application"],
               web_env, log_dir, ready="", cwd=cwd)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).read()
            return web
        except urllib.error.HTTPError:
            return web
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline or web.proc.poll() is not None:
                web.stop(signal.SIGKILL)
                raise RuntimeError(f"gunicorn does not answer:\n{web.log_text()[-3000:]}") from None
            time.sleep(0.2)


def write_section(section: str, path: Path, start: str, end: str) -> None:
    """Replace what is between ``start`` and ``end`` in ``path`` (append the block when missing)."""
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


# --- CPU accounting: what our processes used, and what the rest of the machine did meanwhile -------

def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU clock ticks: its own utime + stime and its reaped children's cutime + cstime).

    Counting the reaped children makes processes that end between two snapshots count in their
    parent: a PostgreSQL backend closed by ``CONN_MAX_AGE`` or by a thread that is done, a Celery
    pool child replaced. Their time before the first snapshot is counted in both snapshots (as
    their own, then in the parent's), so it cancels out of a difference."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(p)] = (int(st[1]), int(st[11]) + int(st[12]) + int(st[13]) + int(st[14]))
    return out


def _descendants(table: dict, roots: set[int]) -> set[int]:
    mine = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in table.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                changed = True
    return mine


class CpuMeter:
    """Between start() and stop(): CPU seconds used by our processes (this one, its children, the
    throwaway PostgreSQL and Redis) and by everything else on the machine (another benchmark running
    at the same time shows up there). Processes that start and end between two snapshots are missed."""

    def __init__(self, roots_fn):
        self.roots_fn = roots_fn  # () -> set of root pids that are ours

    def _snap(self) -> tuple[float, float, dict[str, float]]:
        table = _proc_table()
        mine = _descendants(table, self.roots_fn())
        tick = os.sysconf("SC_CLK_TCK")
        ours = sum(t for pid, (_, t) in table.items() if pid in mine) / tick
        total = sum(t for _, t in table.values()) / tick
        by: dict[str, float] = {}
        for pid in mine:
            if pid in table:
                kind = _kind(pid)
                by[kind] = by.get(kind, 0.0) + table[pid][1] / tick
        return ours, total - ours, by

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.a = self._snap()

    def stop(self) -> dict:
        """Cores used on average (ours, others), and CPU seconds of ours by kind of process
        (``by_kind``: gunicorn, celery, postgres, redis, client = this script)."""
        b = self._snap()
        el = time.monotonic() - self.t0
        by = {k: v - self.a[2].get(k, 0.0) for k, v in b[2].items()}
        return {"ours_cores": (b[0] - self.a[0]) / el, "others_cores": max(0.0, (b[1] - self.a[1]) / el),
                "by_kind": by}


_kinds: dict[int, str] = {}


def _kind(pid: int) -> str:
    """Which part of the stack a process is, from its command line (cached per pid): the program,
    or for Python the module run with ``-m`` (``celery``, ``gunicorn``); anything else is the client."""
    kind = _kinds.get(pid)
    if kind is None:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            argv = []
        prog = Path(argv[0]).name if argv and argv[0] else ""
        module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
        kind = "client"
        for k in ("gunicorn", "celery", "postgres", "redis"):
            if prog.startswith(k) or module == k or (argv and argv[0].startswith(k)):
                kind = k
                break
        _kinds[pid] = kind
    return kind
