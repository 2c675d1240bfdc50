"""Leases: a new lease for the next task (the pick itself is ``picking``), release and expiry."""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Item, Lease, Project
from .picking import _item_take
from .repeats import repeat_take, repeats_apply

log = logging.getLogger(__name__)


def _lease_seconds() -> int:
    return settings.CADRE_LEASE_SECONDS


EXPIRE_EVERY_SECONDS = 10


_next_expire_try = 0.0  # this process asks the shared throttle at most once a second


def _expired_leases_reclaim() -> None:
    """Return expired leases' items to the pool at most every few seconds per process
    group (a cache key throttles it), so it also happens in the embedded run, where no
    Celery beat runs; the periodic ``tasks_app.expire_leases`` does the same in production.
    A process asks the cache at most once a second (no Redis round trip on most next tasks)."""
    global _next_expire_try
    now = time.monotonic()
    if now < _next_expire_try:
        return
    _next_expire_try = now + 1.0
    try:
        due = cache.add("cadre:leases-expire", 1, timeout=EXPIRE_EVERY_SECONDS)
    except Exception:  # the cache (Redis) is down: handing out work matters more than this sweep
        log.warning("cache unavailable; expired-lease sweep skipped", exc_info=True)
        return
    if due:
        leases_expire()


def lease_next(
    *, project: Project, annotator, known_check_rate: float, rng: random.Random | None = None
) -> Lease | None:
    """Give the annotator their next item: their live lease if they have one, else a new
    lease — a hidden known-answer check with probability ``known_check_rate`` (the quality
    engine's choice, stored on the membership), otherwise a regular item. Returns None
    when there is nothing left for them. The caller checks that they may work."""
    rng = rng or random.Random()
    _expired_leases_reclaim()
    with transaction.atomic():
        now = timezone.now()
        mine = list(
            Lease.objects.select_for_update(of=("self",))
            .select_related("item")
            .filter(project=project, annotator=annotator, state=Lease.State.ACTIVE)
            .order_by("id")
        )
        live = [lease for lease in mine if lease.expires_at > now]
        if live:
            return live[0]
        _leases_close(mine, Lease.State.EXPIRED)
        want_known = rng.random() < known_check_rate
        # subjective projects: the check slot serves a hidden repeat when one is due (repeats.py)
        item = repeat_take(project, annotator, rng=rng) if want_known and repeats_apply(project) else None
        if item is None:
            item = _item_take(project, annotator, known=want_known, rng=rng)
        if item is None and want_known:
            # No unseen check left for them: regular work continues.
            item = _item_take(project, annotator, known=False, rng=rng)
        elif item is None:
            return None  # no regular work: do not keep serving checks alone
        if item is None:
            return None
        lease = Lease.objects.create(
            item=item,
            project=project,
            annotator=annotator,
            expires_at=timezone.now() + timedelta(seconds=_lease_seconds()),
        )
    return lease


def _leases_close(leases: list[Lease], state: str) -> int:
    """Close active leases and give their items back; items locked in id order."""
    if not leases:
        return 0
    item_ids = sorted({lease.item_id for lease in leases})
    list(Item.objects.select_for_update().filter(pk__in=item_ids).order_by("pk").values_list("pk", flat=True))
    closed = 0
    for lease in leases:
        n = Lease.objects.filter(pk=lease.pk, state=Lease.State.ACTIVE).update(state=state)
        if n:
            Item.objects.filter(pk=lease.item_id, assigned__gt=0).update(assigned=F("assigned") - 1)
            closed += 1
    return closed


def leases_release(*, project: Project, annotator) -> int:
    """Release every open lease of an annotator on a project (revocation, skip)."""
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update().filter(project=project, annotator=annotator, state=Lease.State.ACTIVE)
        )
        return _leases_close(leases, Lease.State.RELEASED)


def leases_expire(*, now=None, limit: int = 5000) -> int:
    """Close leases past their expiry so their items can be handed out again."""
    now = now or timezone.now()
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update(skip_locked=True)
            .filter(state=Lease.State.ACTIVE, expires_at__lte=now)
            .order_by("id")[:limit]
        )
        return _leases_close(leases, Lease.State.EXPIRED)
