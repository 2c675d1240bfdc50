"""What scoring needs everywhere: the project's bar, the annotator's prior and quality row, the outcome type."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import OperationalError

from tasks_app.models import Project
from workforce.models import Membership

from .. import engine
from ..models import AnnotatorQuality


log = logging.getLogger(__name__)

# Errors worth retrying the scoring task for (the database went away or a deadlock).
RETRYABLE_ERRORS = (OperationalError,)


def project_bar(project: Project) -> float:
    return project.annotator_bar if project.annotator_bar is not None else engine.default_bar(len(project.labels))


def _prior(project: Project, membership: Membership | None) -> engine.AnnotatorPosterior:
    if membership is None:
        return engine.prior_from_qualifier(None, None, len(project.labels))
    return engine.prior_from_qualifier(membership.qualifier_correct, membership.qualifier_total, len(project.labels))


def posterior_of(aq: AnnotatorQuality) -> engine.AnnotatorPosterior:
    return engine.AnnotatorPosterior(alpha=aq.alpha, beta=aq.beta, checks=aq.checks, correct=aq.checks_correct)


def _quality_row(project: Project, annotator, membership: Membership | None, *, lock: bool) -> AnnotatorQuality:
    qs = AnnotatorQuality.objects.filter(project=project, annotator=annotator)
    if lock:
        qs = qs.select_for_update()
    aq = qs.first()
    if aq is None:
        prior = _prior(project, membership)
        aq, _ = AnnotatorQuality.objects.get_or_create(
            project=project, annotator=annotator, defaults={"alpha": prior.alpha, "beta": prior.beta}
        )
        if lock:
            aq = AnnotatorQuality.objects.select_for_update().get(pk=aq.pk)
    return aq


@dataclass(frozen=True)
class ScoreOutcome:
    scored: bool
    kind: str  # "check" | "item" | "skipped"
    detail: str = ""
