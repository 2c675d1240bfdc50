"""The web process's access line (platform/gunicorn.conf.py ``AccessLogger``, issue 9 ``i9web4``): built
from the nine values the default format reads, it must be the line gunicorn's own logger writes."""
from __future__ import annotations

import base64
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn import glogging
from gunicorn.config import Config

CONF = runpy.run_path(str(Path(__file__).resolve().parent.parent / "platform" / "gunicorn.conf.py"))


def _line(logger_class, cfg, resp, req, environ) -> str:
    logger = logger_class(cfg)
    atoms = logger.atoms(resp, req, environ, timedelta(seconds=1, microseconds=2345))
    atoms["t"] = "[23/Nov/2026:09:30:00 +0000]"  # the clock: the same second for both
    return cfg.access_log_format % glogging.SafeAtoms(atoms)


@pytest.mark.parametrize("environ_extra,status,sent", [
    ({"HTTP_REFERER": "http://x/projects/1/task/", "HTTP_USER_AGENT": 'Mozilla "quoted"'}, "200 OK", 1234),
    ({}, "302 Found", None),
    ({"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"ann:secret").decode()}, 403, 0),
])
def test_the_access_line_is_gunicorns(environ_extra, status, sent):
    cfg = Config()
    assert CONF["logger_class"] is not glogging.Logger and cfg.access_log_format == CONF["_DEFAULT_ACCESS_FORMAT"]
    environ = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "RAW_URI": "/projects/1/task/next.json?a=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/projects/1/task/next.json", "QUERY_STRING": "a=1",
               "wsgi.url_scheme": "http", **environ_extra}
    resp = SimpleNamespace(status=status, sent=sent, headers=[("Content-Type", "application/json")])
    req = SimpleNamespace(headers=[("HOST", "127.0.0.1"), ("COOKIE", "sessionid=s")])
    ours = _line(CONF["logger_class"], cfg, resp, req, environ)
    assert ours == _line(glogging.Logger, cfg, resp, req, environ)
    assert ours.startswith('10.0.0.7 - ') and '"POST /projects/1/task/next.json?a=1 HTTP/1.1"' in ours


def test_another_format_gets_every_value():
    """A deployment's own ``access_log_format`` may name any header or environ key: gunicorn's atoms."""
    cfg = Config()
    cfg.set("access_log_format", '%(h)s %({cookie}i)s %({content-type}o)s %(D)s')
    environ = {"REMOTE_ADDR": "1.2.3.4", "REQUEST_METHOD": "GET", "RAW_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1"}
    resp = SimpleNamespace(status="200 OK", sent=5, headers=[("Content-Type", "text/html")])
    req = SimpleNamespace(headers=[("COOKIE", "a=b")])
    assert _line(CONF["logger_class"], cfg, resp, req, environ) == "1.2.3.4 a=b text/html 1002345"
