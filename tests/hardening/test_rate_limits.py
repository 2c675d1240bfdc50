"""Rate limits: failed logins per username and per client IP, sign-up attempts per client IP
(workforce/ratelimit.py, counters in Django's cache), and DRF throttling on the API.
Over a limit: 429 with Retry-After; the login and sign-up pages say why.

Each test runs on its own local-memory cache (never the shared Redis) with low limits."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, UserFactory, customer_with_token
from workforce import ratelimit

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"rl-{uuid.uuid4().hex}"}
    }
    settings.CADRE_LOGIN_RATE_USER = "3/5m"
    settings.CADRE_LOGIN_RATE_IP = "5/5m"
    settings.CADRE_SIGNUP_RATE_IP = "3/5m"
    cache.clear()
    yield
    cache.clear()


def login(username: str, password: str, ip: str = "10.0.0.1", client: Client | None = None):
    return (client or Client()).post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def assert_refused(resp, what: str):
    assert resp.status_code == 429, resp.status_code
    wait = int(resp["Retry-After"])
    assert 1 <= wait <= 300
    html = resp.content.decode()
    assert f"Too many {what} attempts" in html and "minute" in html


def test_failed_logins_per_username_then_429_even_with_the_right_password():
    user = UserFactory()
    for _ in range(3):
        r = login(user.username, "wrong-password")
        assert r.status_code == 200 and "_auth_user_id" not in r.client.session
    c = Client()
    r = login(user.username, PASSWORD, client=c)
    assert_refused(r, "login")
    assert "_auth_user_id" not in c.session  # the password was not even checked
    # Someone else from the same address is not locked out by it.
    other = UserFactory()
    assert login(other.username, PASSWORD).status_code == 302


def test_username_limit_ignores_case_and_spaces():
    user = UserFactory(username="casey")
    for name in ["casey", "CASEY", " Casey "]:
        login(name, "wrong-password", ip=f"10.0.1.{len(name)}")
    assert_refused(login("casey", PASSWORD, ip="10.9.9.9"), "login")


def test_failed_logins_per_ip_then_429_for_every_account():
    users = [UserFactory() for _ in range(6)]
    for u in users[:5]:
        assert login(u.username, "wrong-password", ip="10.0.0.7").status_code == 200
    assert_refused(login(users[5].username, PASSWORD, ip="10.0.0.7"), "login")
    assert login(users[5].username, PASSWORD, ip="10.0.0.8").status_code == 302  # another address


def test_successful_login_clears_the_username_counter():
    user = UserFactory()
    for _ in range(2):
        login(user.username, "wrong-password")
    c = Client()
    assert login(user.username, PASSWORD, client=c).status_code == 302
    for _ in range(2):
        assert login(user.username, "wrong-password").status_code == 200
    assert login(user.username, PASSWORD).status_code == 302


def test_window_expires(settings):
    settings.CADRE_LOGIN_RATE_USER = "2/1s"
    user = UserFactory()
    for _ in range(2):
        login(user.username, "wrong-password")
    assert login(user.username, PASSWORD).status_code == 429
    time.sleep(1.2)
    assert login(user.username, PASSWORD).status_code == 302


def test_login_page_still_renders_while_limited():
    user = UserFactory()
    for _ in range(3):
        login(user.username, "wrong-password")
    assert Client().get("/login/", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_signup_attempts_per_ip():
    User = get_user_model()
    for i in range(3):
        r = Client().post(
            "/signup/", {"username": f"newbie{i}", "password": PASSWORD, "password_again": PASSWORD}, REMOTE_ADDR="10.0.2.1"
        )
        assert r.status_code == 302, r.status_code
    r = Client().post(
        "/signup/", {"username": "newbie9", "password": PASSWORD, "password_again": PASSWORD}, REMOTE_ADDR="10.0.2.1"
    )
    assert_refused(r, "sign-up")
    assert not User.objects.filter(username="newbie9").exists()
    r = Client().post(
        "/signup/", {"username": "newbie9", "password": PASSWORD, "password_again": PASSWORD}, REMOTE_ADDR="10.0.2.2"
    )
    assert r.status_code == 302 and User.objects.filter(username="newbie9").exists()


def test_signup_failed_attempts_count_too():
    for _ in range(3):
        r = Client().post("/signup/", {"username": "x", "password": "short", "password_again": "short"}, REMOTE_ADDR="10.0.3.1")
        assert r.status_code == 200
    assert_refused(Client().post("/signup/", {"username": "y"}, REMOTE_ADDR="10.0.3.1"), "sign-up")


def test_client_ip_behind_proxies(settings, rf):
    req = rf.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.CADRE_NUM_PROXIES = 0
    assert ratelimit.client_ip(req) == "10.1.1.1"  # X-Forwarded-For not trusted without a proxy
    settings.CADRE_NUM_PROXIES = 1
    assert ratelimit.client_ip(req) == "203.0.113.9"  # what our proxy saw; 6.6.6.6 is client-supplied


@pytest.mark.parametrize("text,count,seconds", [("10/5m", 10, 300), ("10/min", 10, 60), ("3/300s", 3, 300), ("2/h", 2, 3600)])
def test_rate_parse(text, count, seconds):
    assert ratelimit.Rate.parse(text) == ratelimit.Rate(count, seconds)


def test_rate_parse_rejects_nonsense():
    with pytest.raises(ValueError):
        ratelimit.Rate.parse("ten per minute")


# --- API: DRF throttling --------------------------------------------------------------------

@pytest.fixture
def api_rates(monkeypatch):
    # SimpleRateThrottle reads its rates once, at import: patch them, not the settings.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "2/min"})


def test_api_user_throttle(api_rates):
    customer = customer_with_token()
    for _ in range(3):
        assert customer.client.get("/api/projects/").status_code == 200
    r = customer.client.get("/api/projects/")
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 60
    assert "throttled" in r.json()["detail"].lower()
    assert customer_with_token().client.get("/api/projects/").status_code == 200  # per token


def test_api_anon_throttle(api_rates):
    from rest_framework.test import APIClient

    c = APIClient()
    for _ in range(2):
        assert c.get("/api/docs/", REMOTE_ADDR="10.0.4.1").status_code == 200
    r = c.get("/api/docs/", REMOTE_ADDR="10.0.4.1")
    assert r.status_code == 429 and int(r["Retry-After"]) >= 1
    assert c.get("/api/docs/", REMOTE_ADDR="10.0.4.2").status_code == 200


def test_api_rates_come_from_the_environment():
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'], s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADRE_API_RATE")}
    env["DJANGO_SETTINGS_MODULE"] = "cadre.settings"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    classes, rates = json.loads(out.stdout.strip().splitlines()[-1])
    assert classes == ["rest_framework.throttling.UserRateThrottle", "rest_framework.throttling.AnonRateThrottle"]
    assert rates == {"user": "1200/min", "anon": "60/min", "exports": "30/min"}  # exports: issue 5's scoped limit
    env.update(CADRE_API_RATE_USER="7/min", CADRE_API_RATE_ANON="5/hour", CADRE_API_RATE_EXPORTS="2/hour")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])[1] == {"user": "7/min", "anon": "5/hour", "exports": "2/hour"}
