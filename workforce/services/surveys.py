"""Paid surveys: ops write them, annotators answer them once, answers become profile
attributes (services/profiles.py) and the completion row records the reward, once."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import attributes
from ..models import AnnotatorProfile, Survey, SurveyCompletion, SurveyQuestion
from .profiles import _record

Kind = SurveyQuestion.Kind
# Which question kinds may set which attribute kinds.
KIND_FITS = {"number": {"number"}, "single": {"single", "text"}, "multi": {"multi"}, "text": {"text"}}


def survey_create(*, actor, title: str, reward, description: str = "") -> Survey:
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = ["Give the survey a title."]
    try:
        reward = Decimal(str(reward))
        if reward < 0 or reward > Decimal("1000") or reward != reward.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["reward"] = ["Enter an amount between 0 and 1000 with at most two decimals."]
    if errors:
        raise ValidationError(errors)
    return Survey.objects.create(title=title, description=(description or "").strip(), reward=reward, created_by=actor)


def survey_question_add(*, survey: Survey, text: str, kind: str, attribute: str = "", choices=None,
                        min_value: int | None = None, max_value: int | None = None) -> SurveyQuestion:
    """Add a question. A question mapped to an attribute takes the attribute's choices and
    bounds unless narrower ones are given (they must fit inside)."""
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = ["Write the question."]
    if kind not in Kind.values:
        errors["kind"] = [f"Choose one of {', '.join(Kind.values)}."]
    if isinstance(choices, str):
        choices = [c.strip() for c in choices.splitlines() if c.strip()]
    choices = list(choices or [])
    attr = None
    if attribute:
        attr = attributes.ATTRIBUTES.get(attribute)
        if attr is None:
            errors["attribute"] = [f"Unknown attribute; known: {', '.join(attributes.ATTRIBUTES)}."]
        elif kind in Kind.values and attr.kind not in KIND_FITS[kind]:
            errors["attribute"] = [f"A {kind} question cannot set {attr.label} ({attr.kind})."]
        elif attr.choices:
            bad = [c for c in choices if c not in attr.choices]
            if bad:
                errors["choices"] = [f"Not values of {attr.label}: {', '.join(bad)}."]
            choices = choices or list(attr.choices)
        else:  # free values (country codes, language codes, skill tags): each choice must be one
            bad = []
            for c in choices:
                try:
                    attributes.normalise(attribute, [c] if attr.kind == "multi" else c)
                except attributes.AttributeError_:
                    bad.append(c)
            if bad:
                errors["choices"] = [f"Not valid values of {attr.label}: {', '.join(bad)}."]
        if attr is not None and attr.kind == "number":
            min_value = attr.min if min_value is None else max(min_value, attr.min)
            max_value = attr.max if max_value is None else min(max_value, attr.max)
    if kind in (Kind.SINGLE, Kind.MULTI) and len(choices) < 2 and not (attr and attr.choices is None):
        errors.setdefault("choices", ["Give at least two choices."])
    if min_value is not None and max_value is not None and min_value > max_value:
        errors["max_value"] = ["The maximum is below the minimum."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.completions.exists():
            raise ValidationError({"survey": ["Annotators have already completed this survey: write a new one."]})
        position = survey.questions.count() + 1
        return SurveyQuestion.objects.create(survey=survey, position=position, text=text, kind=kind, attribute=attribute,
                                             choices=choices, min_value=min_value, max_value=max_value)


def survey_open_set(*, survey: Survey, is_open: bool) -> Survey:
    if is_open and not survey.questions.exists():
        raise ValidationError({"survey": ["Add questions before opening the survey."]})
    survey.is_open = is_open
    survey.save(update_fields=["is_open"])
    return survey


def _answer(q: SurveyQuestion, raw):
    """The normalised answer to one question, or a message."""
    if raw is None or raw == "" or raw == []:
        raise ValueError("Answer this question.")
    if q.kind == Kind.NUMBER:
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw.lstrip("-").isdigit():
                raise ValueError("Enter a whole number.")
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError("Enter a whole number.")
        if (q.min_value is not None and raw < q.min_value) or (q.max_value is not None and raw > q.max_value):
            raise ValueError(f"{raw} is not possible here (between {q.min_value} and {q.max_value}).")
    elif q.kind == Kind.SINGLE:
        if not isinstance(raw, str) or (q.choices and raw not in q.choices):
            raise ValueError("Choose one of the options.")
    elif q.kind == Kind.MULTI:
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ValueError("Choose one or more of the options.")
        if q.choices and any(v not in q.choices for v in raw):
            raise ValueError("Choose only among the options.")
    else:
        if not isinstance(raw, str) or len(raw.strip()) > 2000:
            raise ValueError("Enter text (at most 2000 characters).")
        raw = raw.strip()
    if q.attribute:
        try:
            raw = attributes.normalise(q.attribute, raw)
        except attributes.AttributeError_ as exc:
            raise ValueError(str(exc)) from None
    return raw


def survey_submit(*, survey: Survey, annotator, answers: dict) -> SurveyCompletion:
    """Validate every answer (keys: question id), then in one transaction store the
    completion with its reward and the attributes. Any bad answer: field errors keyed
    ``q-<id>`` and nothing stored. A second submission is refused (paid once)."""
    if not AnnotatorProfile.objects.filter(user=annotator).exclude(status=AnnotatorProfile.Status.SUSPENDED).exists():
        raise ValidationError({"annotator": ["Surveys are for annotator accounts in good standing."]})
    if not survey.is_open:
        raise ValidationError({"survey": ["This survey is closed."]})
    questions = list(survey.questions.all())
    clean, errors = {}, {}
    answers = {str(k): v for k, v in (answers or {}).items()}
    for q in questions:
        try:
            clean[q.pk] = _answer(q, answers.get(str(q.pk)))
        except ValueError as exc:
            errors[f"q-{q.pk}"] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    from .pay import earning_record
    from .vetting import vetting_check

    try:
        with transaction.atomic():
            completion = SurveyCompletion.objects.create(
                annotator=annotator, survey=survey, reward=survey.reward, answers={str(k): v for k, v in clean.items()})
            mapped = {q.attribute: clean[q.pk] for q in questions if q.attribute}
            _record(annotator, mapped, source=f"survey:{survey.pk}", survey=survey)
            vetting_check(annotator=annotator)
            if completion.reward > 0:  # paid once: the completion is unique, and so is its ledger key
                earning_record(annotator=annotator, kind="survey", source_key=f"survey-completion:{completion.pk}",
                               amount=completion.reward, note=f"Survey: {survey.title}"[:200])
    except IntegrityError:
        raise ValidationError({"survey": ["You have already completed this survey."]}) from None
    return completion


def survey_completions_unpaid(*, paid_completion_ids=()):
    """Completion rows not yet turned into ledger entries (part B's ledger passes the ids
    it already holds). Each row: annotator, survey, reward, completed_at."""
    return SurveyCompletion.objects.exclude(pk__in=list(paid_completion_ids)).order_by("id")
