"""``GET /ops/metrics``: Prometheus text exposition (``dashboards/metrics.py``).

Access: ``Authorization: Bearer <CADRE_METRICS_TOKEN>`` (compared in constant time), or a signed-in
staff session (to look at it in a browser). Without either: 401 with ``WWW-Authenticate: Bearer``;
a signed-in non-staff account: 403. With ``CADRE_METRICS_TOKEN`` unset only staff sessions get in."""
from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from ..metrics import render


def metrics_token() -> str:
    return getattr(settings, "CADRE_METRICS_TOKEN", None) or os.environ.get("CADRE_METRICS_TOKEN", "")


def _bearer_ok(request) -> bool:
    token = metrics_token()
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request):
    user = request.user
    if not _bearer_ok(request):
        if not user.is_authenticated:
            response = HttpResponse("Metrics need a bearer token (CADRE_METRICS_TOKEN) or a staff session.\n",
                                    status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="cadre-metrics"'
            return response
        if not (user.is_active and user.is_staff):
            return HttpResponse("Metrics are for Cadre staff.\n", status=403, content_type="text/plain")
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
