"""Gunicorn settings for Cadre's web process: gunicorn -c platform/gunicorn.conf.py cadre.wsgi:application

Read from the environment:
  PORT               port to listen on (default 8000); BIND overrides the whole address
  WEB_CONCURRENCY    worker processes (default cores + 2: bench/load.py measured 3-4 best on 2 cores,
                     5 = 2 * cores + 1 slower, BENCHMARKS.md 'Load')
  GUNICORN_THREADS   threads per worker (default 1)
  GUNICORN_MAX_REQUESTS  requests before a worker is replaced (default 50000, +up to 10 % jitter; 0 = never)
  GUNICORN_TIMEOUT   seconds before a silent worker is killed and replaced (default 60)
  LOG_LEVEL          gunicorn's error-log level (default info)
  GUNICORN_ACCESS_LOG  where the access log goes: "-" stdout (default), a path, or "off"

(This file is loaded by path; platform/ is not a Python package and must never get an __init__.py.)
"""
import multiprocessing
import os

from gunicorn import config as gunicorn_config
from gunicorn import glogging

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 2)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then so a slow leak cannot grow without bound. Each recycle costs a Django
# start (~1 s of CPU) and stalls the requests queued on that worker: at 1,000 requests a worker was
# replaced every ~30 s under load, the next-task p99 spikes of issue 9. GUNICORN_MAX_REQUESTS=0: never.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 50000)
max_requests_jitter = max_requests // 10

# Logs to stdout/stderr, for the container runtime to collect. GUNICORN_ACCESS_LOG: "-" (stdout, the
# default), a file, or "off" (no access log: when a proxy in front already logs every request).
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG", "-") == "off" else os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with the access line's values built for the default format only.

    gunicorn builds every value any format could name for each request (every request header, every
    response header, every environ key, each lower-cased and quote-escaped again by ``SafeAtoms``)
    and then formats a line that reads nine of them: about half of the access log's cost, which was
    ~4 % of a worker's CPU per annotation (issue 9, ``i9web4``: cProfile of the JSON loop). With the
    default ``access_log_format`` this builds those nine, the same values as gunicorn's ``atoms``
    (the line is the same, tests/test_gunicorn_log.py); with any other format, gunicorn's own.
    (gunicorn switches to its statsd logger by itself only while ``logger_class`` is its default: a
    deployment that turns statsd on names ``gunicorn.instrument.statsd.Statsd`` as ``--logger-class``.)"""

    def atoms(self, resp, req, environ, request_time):
        if self.cfg.access_log_format != _DEFAULT_ACCESS_FORMAT:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now,
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "b": sent is not None and str(sent) or "-",
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


_DEFAULT_ACCESS_FORMAT = gunicorn_config.AccessLogFormat.default
logger_class = AccessLogger
capture_output = True

# Heartbeat files on tmpfs when there is one (an overlay filesystem can stall them).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# Behind a proxy in production: trust X-Forwarded-* from it (settings set SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Gunicorn 25+ opens a control socket at $HOME/.gunicorn/gunicorn.ctl by default: two servers on one
# host would share that path, and the image's user has no writable home. Off unless asked for.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
