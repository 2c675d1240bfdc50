"""Profile attributes: recording reported values (with source and date), flagging
contradictions for ops review, and ops resolving those flags."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import attributes
from ..models import AttributeValue, ProfileFlag


def attributes_clean(values: dict) -> dict:
    """Normalised values, or ValidationError with one message per bad attribute (nothing
    is stored by the caller when this raises)."""
    out, errors = {}, {}
    for key, value in values.items():
        try:
            out[key] = attributes.normalise(key, value)
        except attributes.AttributeError_ as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return out


def _record(annotator, clean: dict, *, source: str, survey=None) -> list[ProfileFlag]:
    """Store already-normalised values (caller holds the transaction)."""
    now = timezone.now()
    flags = []
    current = {a.key: a for a in AttributeValue.objects.select_for_update()
               .filter(annotator=annotator, is_current=True, key__in=list(clean))}
    for key, value in clean.items():
        old = current.get(key)
        if old is not None:
            if old.value == value:
                continue  # the same answer again: keep the original source and date
            if attributes.contradicts(key, old.value, old.recorded_at.date(), value, now.date()):
                flags.append(ProfileFlag.objects.create(
                    annotator=annotator, key=key, previous=old.value, previous_source=old.source,
                    previous_at=old.recorded_at, new=value, new_source=source))
            AttributeValue.objects.filter(pk=old.pk).update(is_current=False)
        AttributeValue.objects.create(annotator=annotator, key=key, value=value, source=source, survey=survey)
    return flags


def profile_update(*, annotator, values: dict) -> list[ProfileFlag]:
    """The profile form: validate everything first, then store in one transaction and
    re-check vetting (a complete profile is one of its steps)."""
    from .vetting import vetting_check

    clean = attributes_clean({k: v for k, v in values.items() if v not in (None, "", [])})
    with transaction.atomic():
        flags = _record(annotator, clean, source="profile")
        vetting_check(annotator=annotator)
    return flags


def profile_flag_resolve(*, flag: ProfileFlag, actor, resolution: str) -> ProfileFlag:
    resolution = (resolution or "").strip()
    if not (actor and actor.is_staff):
        raise ValidationError({"actor": ["Only Cadre staff resolve profile flags."]})
    if not resolution:
        raise ValidationError({"resolution": ["Say what you concluded."]})
    with transaction.atomic():
        flag = ProfileFlag.objects.select_for_update().get(pk=flag.pk)
        if flag.resolved_at is not None:
            raise ValidationError({"flag": ["Already resolved."]})
        flag.resolved_at = timezone.now()
        flag.resolved_by = actor
        flag.resolution = resolution
        flag.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return flag
