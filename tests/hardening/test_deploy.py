"""Production settings (CADRE_PRODUCTION): ``manage.py check --deploy`` passes with no
warnings, and the development SECRET_KEY is refused. Each case starts its own process,
since settings are read once at start."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)


def run(args, **env_extra):
    # A clean environment: the test run's own variables (DATABASE_URL, DJANGO_ALLOW_ASYNC_UNSAFE
    # set by live-server tests, ...) must not leak into what a deployment would see.
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}}
    env.update(env_extra)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def prod_settings(**env_extra) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', "
        "'SECURE_REFERRER_POLICY', 'SECURE_PROXY_SSL_HEADER']}))"
    )
    env = {"CADRE_PRODUCTION": "1", "SECRET_KEY": STRONG_KEY, "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "cadre.settings"}
    r = run(["-c", code], **{**env, **env_extra})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_without_warnings():
    r = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        CADRE_PRODUCTION="1", SECRET_KEY=STRONG_KEY, DJANGO_DEBUG="0",
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "WARNING" not in out and "?: (" not in out, out
    assert "no issues" in out


def test_production_settings():
    s = prod_settings()
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_HSTS_PRELOAD"] is False  # opt-in: CADRE_HSTS_PRELOAD=1
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert s["X_FRAME_OPTIONS"] == "DENY"
    assert s["SECURE_REFERRER_POLICY"] == "same-origin"
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_ssl_redirect_and_preload_are_configurable():
    s = prod_settings(CADRE_SSL_REDIRECT="0", CADRE_HSTS_PRELOAD="1")
    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SECURE_HSTS_PRELOAD"] is True
    r = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        CADRE_PRODUCTION="1", SECRET_KEY=STRONG_KEY, DJANGO_DEBUG="0", CADRE_HSTS_PRELOAD="1",
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_dev_secret_key_is_refused_in_production():
    for key in [None, "dev-only-insecure-key-change-me-in-production", "insecure-compose-default-set-SECRET_KEY"]:
        env = {"CADRE_PRODUCTION": "1", "DJANGO_DEBUG": "0"}
        if key:
            env["SECRET_KEY"] = key
        r = run(["manage.py", "check"], **env)
        assert r.returncode != 0, (key, r.stdout)
        assert "ImproperlyConfigured" in r.stderr and "SECRET_KEY" in r.stderr, r.stderr[-2000:]


def test_dev_key_is_fine_outside_production():
    r = run(["manage.py", "check"])
    assert r.returncode == 0, r.stderr
