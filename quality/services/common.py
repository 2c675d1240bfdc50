"""What scoring needs everywhere: the project's bar, the annotator's prior and quality row, the outcome type."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import OperationalError, connection

from tasks_app.models import Project
from workforce.models import Membership

from .. import engine
from ..models import AnnotatorQuality


log = logging.getLogger(__name__)

# Errors worth retrying the scoring task for (the database went away or a deadlock).
RETRYABLE_ERRORS = (OperationalError,)

# Namespace of the per-project advisory lock below (any fixed int4 no other code uses).
PROJECT_LOCK_NAMESPACE = 0x43414452  # "CADR"


def project_lock(project_id: int, *, exclusive: bool) -> None:
    """Take the project's transaction-scoped advisory lock: shared for scoring one answer,
    exclusive for the periodic re-estimate (``project_model_refresh``).

    Both write the same rows in opposite orders — scoring locks its item, the annotators'
    confusion rows, then the project's model state; the re-estimate locks the state, every
    confusion row, then decided items — and under ``bench/load.py`` they deadlocked (135
    deadlocks in one 3-minute run, each stalling both sides for PostgreSQL's deadlock timeout).
    Taking this lock first puts them in one order: scorings run side by side, and a
    re-estimate waits for those in flight and holds new ones back until it commits. No-op on
    SQLite, which writes one transaction at a time anyway.
    """
    if connection.vendor != "postgresql":
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    from tasks_app.services.sql import prepared_cursor

    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {fn}(%s, %s)", [PROJECT_LOCK_NAMESPACE, int(project_id)])


def project_bar(project: Project) -> float:
    return project.annotator_bar if project.annotator_bar is not None else engine.default_bar(len(project.labels))


def _prior(project: Project, membership: Membership | None) -> engine.AnnotatorPosterior:
    if membership is None:
        return engine.prior_from_qualifier(None, None, len(project.labels))
    return engine.prior_from_qualifier(membership.qualifier_correct, membership.qualifier_total, len(project.labels))


def posterior_of(aq: AnnotatorQuality) -> engine.AnnotatorPosterior:
    return engine.AnnotatorPosterior(alpha=aq.alpha, beta=aq.beta, checks=aq.checks, correct=aq.checks_correct)


def _quality_row(project: Project, annotator, membership: Membership | None, *, lock: bool) -> AnnotatorQuality:
    """``annotator``: a user or their id."""
    annotator = getattr(annotator, "pk", annotator)
    qs = AnnotatorQuality.objects.filter(project=project, annotator_id=annotator)
    if lock:
        qs = qs.select_for_update()
    aq = qs.first()
    if aq is None:
        prior = _prior(project, membership)
        aq, _ = AnnotatorQuality.objects.get_or_create(
            project=project, annotator_id=annotator, defaults={"alpha": prior.alpha, "beta": prior.beta}
        )
        if lock:
            aq = AnnotatorQuality.objects.select_for_update().get(pk=aq.pk)
    return aq


@dataclass(frozen=True)
class ScoreOutcome:
    scored: bool
    kind: str  # "check" | "item" | "skipped"
    detail: str = ""
    class_post: dict | None = None  # a decided item's posterior, for the project's class prior
