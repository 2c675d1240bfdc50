"""Invitations: the best predicted annotators first, in waves, widened when too few accept.

``invitations_send`` invites the next ``size`` eligible annotators by predicted accuracy
(services/ranking.py). ``invitations_widen`` (Celery beat, hourly) sends another wave for
each live project whose audience asks for invitations when the accepted plus still-fresh
invitations fall short of the target: ``CADRE_INVITE_TARGET`` annotators (default 20), or
more when the project's answers per day need more people at the pool's past pace.
"""
from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tasks_app.models import Answer, Project

from ..models import Audience, Invitation, Membership
from . import audience as audience_service
from . import ranking

WAVE_SIZE = 10
FRESH_HOURS = 48  # an invitation not answered within this counts as not coming


def invite_target(project: Project) -> int:
    base = int(getattr(settings, "CADRE_INVITE_TARGET", 20))
    aud = Audience.objects.filter(project=project).first()
    if not aud or not aud.answers_per_day:
        return base
    since = timezone.now() - timedelta(days=28)
    n = Answer.objects.filter(created_at__gte=since).count()
    people_days = Answer.objects.filter(created_at__gte=since).values("annotator_id", "created_at__date").distinct().count()
    per_person_day = n / people_days if people_days else 50.0
    return max(base, math.ceil(aud.answers_per_day / per_person_day))


def invitations_send(*, project: Project, size: int = WAVE_SIZE, model: ranking.Model | None = None) -> list[Invitation]:
    if project.status == Project.Status.COMPLETE:
        raise ValidationError({"project": ["This project is complete."]})
    if not 1 <= size <= 1000:
        raise ValidationError({"size": ["Between 1 and 1000."]})
    pool = audience_service.eligible_ids(project)
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)  # one wave at a time per project
        done = set(Invitation.objects.filter(project=project).values_list("annotator_id", flat=True))
        candidates = [a for a in pool if a not in done]
        ranked = ranking.rank(project=project, annotator_ids=candidates, model=model)[:size]
        wave = (Invitation.objects.filter(project=project).aggregate(w=Max("wave"))["w"] or 0) + 1
        start = len(done)
        return [Invitation.objects.create(project=project, annotator_id=aid, wave=wave, rank=start + i + 1,
                                          predicted_accuracy=min(1.0, max(0.0, p)))
                for i, (aid, p) in enumerate(ranked)]


def invitation_respond(*, invitation: Invitation, annotator, accept: bool) -> Invitation:
    if invitation.annotator_id != annotator.pk:
        raise ValidationError({"invitation": ["Not your invitation."]})
    with transaction.atomic():
        inv = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if inv.state != Invitation.State.INVITED:
            raise ValidationError({"invitation": [f"Already {inv.get_state_display().lower()}."]})
        inv.state = Invitation.State.ACCEPTED if accept else Invitation.State.DECLINED
        inv.responded_at = timezone.now()
        inv.save(update_fields=["state", "responded_at"])
        if accept and inv.project.status == Project.Status.LIVE:
            Membership.objects.get_or_create(project=inv.project, annotator=annotator)
    return inv


def invitations_widen(*, now=None) -> dict[int, int]:
    """One more wave where accepted + fresh invitations fall short of the target."""
    now = now or timezone.now()
    sent: dict[int, int] = {}
    model = None
    for aud in Audience.objects.filter(invite_only=True, project__status=Project.Status.LIVE).select_related("project"):
        inv = Invitation.objects.filter(project=aud.project)
        coming = inv.filter(state=Invitation.State.ACCEPTED).count() + inv.filter(
            state=Invitation.State.INVITED, created_at__gte=now - timedelta(hours=FRESH_HOURS)).count()
        short = invite_target(aud.project) - coming
        if short > 0:
            model = model or ranking.model_train(now=now)
            sent[aud.project_id] = len(invitations_send(project=aud.project, size=min(max(short, 1), 1000), model=model))
    return sent
