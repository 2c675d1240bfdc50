"""platform/gunicorn.conf.py plus a cProfile of each worker (bench only, issue 9): the worker's whole
loop (accept, HTTP parsing, WSGI, Django, the access log, closing the socket), not only Django's part.

    GUNICORN_PROFILE_DIR=/tmp/prof python -m gunicorn -c bench/gunicorn_profile.conf.py cadre.wsgi:application

Each worker writes ``worker-<pid>.prof`` (pstats) to ``GUNICORN_PROFILE_DIR`` when it exits
(SIGTERM); CPU time, after the first requests (``pre_request``). cProfile slows the worker (each Python call costs more), so read shares, not times.
"""
import os
from pathlib import Path

_here = Path.cwd() / "platform" / "gunicorn.conf.py"  # the checkout being measured (bench/web_ab.py: cwd)
exec(compile(_here.read_text(), str(_here), "exec"))  # every production setting, unchanged

_PROFILE_DIR = os.environ["GUNICORN_PROFILE_DIR"]


WARM_REQUESTS = int(os.environ.get("GUNICORN_PROFILE_AFTER", "100"))


def pre_request(worker, req):
    """From the worker's ``GUNICORN_PROFILE_AFTER``-th request on (default 100): Django and the
    views import lazily on the first requests, which is not per-request cost. CPU time, not wall
    time, so waiting on a socket or PostgreSQL does not count."""
    worker._cadre_seen = getattr(worker, "_cadre_seen", 0) + 1
    if worker._cadre_seen == WARM_REQUESTS:
        import cProfile
        import time

        worker._cadre_profile = cProfile.Profile(time.process_time)
        worker._cadre_profile.enable()


def worker_exit(server, worker):
    prof = getattr(worker, "_cadre_profile", None)
    if prof is not None:
        prof.disable()
        os.makedirs(_PROFILE_DIR, exist_ok=True)
        prof.dump_stats(os.path.join(_PROFILE_DIR, f"worker-{os.getpid()}.prof"))
