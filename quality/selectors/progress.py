"""Project progress: item and answer counts for the customer API and ops."""
from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from tasks_app.models import Answer, Item, Project
from workforce.models import Membership



def project_progress(*, project: Project) -> dict[str, Any]:
    items = Item.objects.filter(project=project, is_known=False).aggregate(
        total=Count("id"),
        accepted=Count("id", filter=Q(status=Item.Status.ACCEPTED)),
        exhausted=Count("id", filter=Q(status=Item.Status.EXHAUSTED)),
        pending=Count("id", filter=Q(status=Item.Status.OPEN)),
    )
    answers = Answer.objects.filter(project=project).aggregate(
        total=Count("id"), checks=Count("id", filter=Q(is_check=True)), unscored=Count("id", filter=Q(scored_at__isnull=True))
    )
    standing = dict(
        Membership.objects.filter(project=project, stage=Membership.Stage.WORKING)
        .values_list("standing")
        .annotate(n=Count("id"))
    )
    return {
        "project": project.pk,
        "status": project.status,
        "items_total": items["total"],
        "items_accepted": items["accepted"],
        "items_uncertain": items["exhausted"],
        "items_pending": items["pending"],
        "answers": answers["total"],
        "known_checks": answers["checks"],
        "answers_unscored": answers["unscored"],
        "annotators_active": standing.get(Membership.Standing.ACTIVE, 0),
        "annotators_warned": standing.get(Membership.Standing.WARNED, 0),
        "annotators_revoked": standing.get(Membership.Standing.REVOKED, 0),
    }
