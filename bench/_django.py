"""What the benchmark CLIs share to reach Cadre's code and set Django up (imported first by each
``bench/*.py`` run as a script: ``bench/`` is then on ``sys.path`` already).

Importing it puts the repository root on ``sys.path`` (so ``quality``, ``tasks_app``, … import)
and gives ``ROOT``. :func:`setup` is the one ``django.setup()`` of a bench process, with the
options the scripts differ in: a scratch PostgreSQL database created if missing and migrated,
and Celery eager (``REDIS_URL`` dropped: tasks run in the bench's own process).

Not used by the throwaway-stack benchmarks (``bench/stack.py``'s ``django_setup`` points Django at
the stack's own services) nor by the pure-engine scripts that never import Django settings.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for _path in (str(BENCH), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names if it does not exist (a scratch database for
    benchmarks that write rows)."""
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(*, scratch_database: bool = False, eager_celery: bool = False) -> None:
    """``django.setup()`` with ``cadre.settings``. ``scratch_database``: ``DATABASE_URL`` must name a
    PostgreSQL database; it is created if missing and migrated. ``eager_celery``: ``REDIS_URL``
    is dropped first, so Celery runs tasks in this process (settings' embedded mode)."""
    if scratch_database:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
        ensure_database(url)
    if eager_celery:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")
    import django

    django.setup()
    if scratch_database:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (same machine: /proc)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT pg_backend_pid()")
        pid = c.fetchone()[0]
    st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
