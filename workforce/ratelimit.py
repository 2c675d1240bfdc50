"""Rate limits on the login and sign-up pages (the API's are DRF throttles, see settings).

Counters live in Django's cache (Redis in production, so every web process shares them;
local memory in the embedded run). Each limit is a fixed window that starts at the first
counted attempt: ``N`` attempts per ``P`` seconds, then refused until the window ends.

* Login: *failed* logins are counted per username (guessing one account's password) and
  per client IP (trying many accounts from one place). While either is over its limit the
  login is refused without checking the password (429, the form says why and for how
  long), even when the password is right, so guessing cannot continue. A successful login
  clears its username's counter (not the IP's: one account of their own must not let an
  attacker reset the IP limit).
* Sign-up: every POST is counted per client IP (account farming, and the "name taken"
  answer as a way to enumerate user names).

Rates come from settings (``CADRE_LOGIN_RATE_USER``, ``CADRE_LOGIN_RATE_IP``,
``CADRE_SIGNUP_RATE_IP``, "<count>/<seconds>s|m|h", e.g. "10/5m"). The IP limits are
higher than the username one because annotation teams often share one office address.
The client IP is REMOTE_ADDR, or the address ``CADRE_NUM_PROXIES`` hops from the right of
X-Forwarded-For behind that many trusted proxies (the same rule as DRF's NUM_PROXIES).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse

KEY_PREFIX = "cadre:rl"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """"10/5m" → 10 per 300 s; "10/min", "10/300s", "10/h" work too."""
        num, _, period = text.strip().partition("/")
        period = period.strip().lower()
        digits = "".join(ch for ch in period if ch.isdigit())
        unit = period[len(digits):][:1] or "s"
        if unit not in UNITS or not num.strip().isdigit():
            raise ValueError(f"bad rate {text!r}: use <count>/<n><s|m|h|d>, e.g. 10/5m")
        return cls(int(num), int(digits or 1) * UNITS[unit])


def _rate(name: str, default: str) -> Rate:
    return Rate.parse(getattr(settings, name, default))


def login_rate_user() -> Rate:
    return _rate("CADRE_LOGIN_RATE_USER", "10/5m")


def login_rate_ip() -> Rate:
    return _rate("CADRE_LOGIN_RATE_IP", "50/5m")


def signup_rate_ip() -> Rate:
    return _rate("CADRE_SIGNUP_RATE_IP", "20/5m")


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = int(getattr(settings, "CADRE_NUM_PROXIES", 0) or 0)
    xff = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not xff:
        return remote
    addrs = [a.strip() for a in xff.split(",") if a.strip()]
    return addrs[-min(proxies, len(addrs))] if addrs else remote


def _key(scope: str, ident: str) -> str:
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{KEY_PREFIX}:{scope}:{digest}"


def retry_after(scope: str, ident: str, rate: Rate) -> int | None:
    """Seconds until ``ident`` may try again, or None when it is under the limit."""
    key = _key(scope, ident)
    count = cache.get(key) or 0
    if count < rate.count:
        return None
    started = cache.get(f"{key}:t")
    left = rate.seconds if started is None else started + rate.seconds - time.time()
    return max(1, math.ceil(left))


def hit(scope: str, ident: str, rate: Rate) -> int:
    """Count one attempt; returns the count in the current window."""
    key = _key(scope, ident)
    if cache.add(key, 0, timeout=rate.seconds):
        cache.set(f"{key}:t", time.time(), timeout=rate.seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=rate.seconds)
        cache.set(f"{key}:t", time.time(), timeout=rate.seconds)
        return 1


def reset(scope: str, ident: str) -> None:
    key = _key(scope, ident)
    cache.delete_many([key, f"{key}:t"])


def _username_ident(username: str) -> str:
    return (username or "").strip().lower()


def login_retry_after(request: HttpRequest, username: str) -> int | None:
    waits = [
        retry_after("login-ip", client_ip(request), login_rate_ip()),
        retry_after("login-user", _username_ident(username), login_rate_user()) if username else None,
    ]
    waits = [w for w in waits if w]
    return max(waits) if waits else None


def login_failed(request: HttpRequest, username: str) -> None:
    hit("login-ip", client_ip(request), login_rate_ip())
    if username:
        hit("login-user", _username_ident(username), login_rate_user())


def login_succeeded(username: str) -> None:
    reset("login-user", _username_ident(username))


def signup_retry_after(request: HttpRequest) -> int | None:
    return retry_after("signup-ip", client_ip(request), signup_rate_ip())


def signup_attempted(request: HttpRequest) -> None:
    hit("signup-ip", client_ip(request), signup_rate_ip())


def too_many_message(seconds: int, what: str) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many {what} attempts from here. Please wait {when} and try again."


def refuse(response: HttpResponse, seconds: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(seconds)
    return response


def form_with_error(form, message: str):
    """``form`` showing ``message`` as its only error, without validating it (validating
    the login form would check the password, which is what the limit is there to stop)."""
    form._errors = ErrorDict()
    form.cleaned_data = {}
    form.add_error(None, message)
    return form


class LoginView(auth_views.LoginView):
    """Django's LoginView with the login limits above."""

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        wait = login_retry_after(request, username)
        if wait:
            form = form_with_error(self.get_form(), too_many_message(wait, "login"))
            return refuse(self.render_to_response(self.get_context_data(form=form)), wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_failed(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)

    def form_valid(self, form):
        login_succeeded(self.request.POST.get("username", ""))
        return super().form_valid(form)
