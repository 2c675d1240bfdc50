"""Known-answer audit: flag a key strong annotators keep disagreeing with, take the item out
of the check rotation while flagged, and let ops confirm, correct (re-scoring the answers) or
keep it. The math is ``quality.engine.known_audit``."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tasks_app.models import Answer, Item, Project

from .. import engine
from ..engine import known_audit, sprt
from ..models import AnnotatorQuality, GatingState, KnownAnswerFlag
from .common import posterior_of, project_bar


def _strong_answers(project: Project, item: Item) -> list[tuple[str, float]]:
    """Check answers on the item from annotators credibly at or above the bar, each with
    their accuracy leaving this item's check out."""
    rows = list(
        Answer.objects.filter(item=item, is_check=True, correct__isnull=False).values_list("annotator_id", "label", "correct")
    )
    quality = {aq.annotator_id: aq for aq in AnnotatorQuality.objects.filter(project=project, annotator_id__in=[r[0] for r in rows])}
    bar = project_bar(project)
    out = []
    for annotator_id, label, correct in rows:
        aq = quality.get(annotator_id)
        if aq is None or aq.checks < known_audit.MIN_CHECKS + 1:
            continue
        post = posterior_of(aq).without_check(bool(correct))
        if post.interval(project.confidence)[0] >= bar:
            out.append((label, post.mean))
    return out


def known_item_audit(*, project: Project, item_id: int) -> KnownAnswerFlag | None:
    """Audit one known item (runs in the caller's transaction, after a wrong check); flag it
    and take it out of the rotation when its key looks wrong."""
    item = Item.objects.select_for_update().get(pk=item_id)
    if not item.is_known or item.status != Item.Status.OPEN:
        return None
    answers = _strong_answers(project, item)
    if sum(1 for label, _ in answers if label != item.known_label) < known_audit.MIN_DISAGREE:
        return None
    audit = known_audit.audit_key(project.labels, item.known_label, answers)
    if not audit.flagged:
        return None
    flag = KnownAnswerFlag.objects.create(
        item=item, project=project, key_label=item.known_label, suggested_label=audit.suggested_label,
        p_key_correct=audit.p_key_correct, model_version=known_audit.MODEL_VERSION,
        evidence=dict(audit.evidence, strong=audit.strong_answers, disagreeing=audit.disagreeing),
    )
    # A known item is never decided, so "exhausted" on it means: out of the check rotation.
    Item.objects.filter(pk=item.pk).update(status=Item.Status.EXHAUSTED)
    return flag


def known_item_audit_by_id(*, item_id: int) -> KnownAnswerFlag | None:
    """One transaction: audit a known item by id (the task after a wrong check)."""
    with transaction.atomic():
        item = Item.objects.select_related("project").filter(pk=item_id, is_known=True).first()
        if item is None:
            return None
        return known_item_audit(project=item.project, item_id=item.pk)


def known_items_audit(*, project: Project) -> int:
    """Audit every known item of a project (the periodic safety net). Returns flags created."""
    n = 0
    for item_id in Item.objects.filter(project=project, is_known=True, status=Item.Status.OPEN).values_list("id", flat=True):
        with transaction.atomic():
            n += known_item_audit(project=project, item_id=item_id) is not None
    return n


def _rescore(project: Project, item: Item, key: str) -> int:
    """Re-score every check answer on the item against ``key``: posteriors and SPRT walks move
    by the difference (answers held while the item was flagged are counted now)."""
    design = None
    try:
        design = sprt.design_for(project_bar(project), len(project.labels))
    except ValueError:
        pass
    changed = 0
    answers = list(Answer.objects.select_for_update().filter(item=item, is_check=True, scored_at__isnull=False).order_by("annotator_id"))
    for a in answers:
        new = a.label == key
        if a.correct is new:
            continue
        aq = AnnotatorQuality.objects.select_for_update().filter(project=project, annotator_id=a.annotator_id).first()
        if aq is not None:
            post = posterior_of(aq)
            if a.correct is None:
                post = engine.posterior_update(post, new)
            else:
                post = engine.AnnotatorPosterior(
                    alpha=post.alpha + (1 if new else -1), beta=post.beta + (-1 if new else 1),
                    checks=post.checks, correct=post.correct + (1 if new else -1),
                )
            aq.alpha, aq.beta, aq.checks, aq.checks_correct = post.alpha, post.beta, post.checks, post.correct
            aq.save(update_fields=["alpha", "beta", "checks", "checks_correct", "updated_at"])
        st = GatingState.objects.select_for_update().filter(project=project, annotator_id=a.annotator_id).first()
        if st is not None and design is not None:
            delta = (design.step_correct if new else design.step_wrong)
            if a.correct is not None:
                delta -= design.step_correct if a.correct else design.step_wrong
            st.llr = max(design.floor, st.llr + delta)
            st.save(update_fields=["llr", "updated_at"])
        a.correct = new
        a.save(update_fields=["correct"])
        changed += 1
    return changed


ACTIONS = ("confirm", "correct", "keep")


def known_flag_resolve(*, flag_id: int, user, action: str, new_label: str | None = None, note: str = "") -> KnownAnswerFlag:
    """Ops' decision on a flagged key, in one transaction: ``confirm`` (the key is right),
    ``correct`` (new key; every check answer on the item re-scored) or ``keep`` (undecided,
    back in use). The item returns to the check rotation; answers held meanwhile are scored."""
    if action not in ACTIONS:
        raise ValidationError({"action": [f"Choose one of {', '.join(ACTIONS)}."]})
    with transaction.atomic():
        flag = KnownAnswerFlag.objects.select_for_update().select_related("project").filter(pk=flag_id).first()
        if flag is None:
            raise ValidationError({"flag": ["No such flag."]})
        if flag.status != KnownAnswerFlag.Status.OPEN:
            raise ValidationError({"flag": [f"Already resolved ({flag.get_status_display()})."]})
        project = flag.project
        item = Item.objects.select_for_update().get(pk=flag.item_id)
        key = item.known_label
        if action == "correct":
            if new_label not in project.labels:
                raise ValidationError({"new_label": ["Choose one of the project's labels."]})
            if new_label == key:
                raise ValidationError({"new_label": ["That is the current key: use confirm."]})
            key = new_label
            item.known_label = key
        item.status = Item.Status.OPEN
        item.save(update_fields=["known_label", "status"])
        flag.rescored_answers = _rescore(project, item, key)
        flag.status = {"confirm": KnownAnswerFlag.Status.CONFIRMED, "correct": KnownAnswerFlag.Status.CORRECTED,
                       "keep": KnownAnswerFlag.Status.KEPT}[action]
        flag.new_label = key if action == "correct" else None
        flag.resolved_by, flag.resolved_at, flag.note = user, timezone.now(), note
        flag.save()
    return flag
