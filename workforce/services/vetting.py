"""The vetting lifecycle: applicant → vetted → active, suspension, and its append-only history.

* applicant: signed up.
* vetted: email verified, profile complete (attributes.PROFILE_REQUIRED known) and an ops
  person recorded a passed identity check. Reached automatically by whichever of the three
  steps comes last (the history row then has no actor: the system made the change).
* active: the vetted annotator accepted the code of conduct. Only active annotators may take
  tasks (services/audience.py::tasking_blocked, called from task_next).
* suspended: ops, platform-wide, with a reason; every open lease is given back. Lifting a
  suspension (ops, with a reason) returns the annotator to where vetting puts them.

Each change writes one StatusChange row in the same transaction as the status.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app.models import Lease, Project

from .. import attributes
from ..models import AnnotatorProfile, AttributeValue, StatusChange

User = get_user_model()
Status = AnnotatorProfile.Status
EMAIL_SALT = "workforce.email-verify"
EMAIL_MAX_AGE = 3 * 24 * 3600  # a verification link works for three days


def _locked(annotator) -> AnnotatorProfile:
    try:
        return AnnotatorProfile.objects.select_for_update().get(user=annotator)
    except AnnotatorProfile.DoesNotExist:
        raise ValidationError({"annotator": ["Not an annotator account."]}) from None


def _change(profile: AnnotatorProfile, to: str, *, actor, reason: str) -> AnnotatorProfile:
    if profile.status == to:
        return profile
    StatusChange.objects.create(annotator_id=profile.user_id, from_status=profile.status, to_status=to,
                                actor=actor, reason=reason)
    profile.status = to
    profile.save(update_fields=["status"])
    return profile


def profile_complete(annotator) -> bool:
    known = set(AttributeValue.objects.filter(annotator=annotator, is_current=True,
                                              key__in=attributes.PROFILE_REQUIRED).values_list("key", flat=True))
    return known >= set(attributes.PROFILE_REQUIRED)


def vetting_missing(profile: AnnotatorProfile) -> list[str]:
    """What still stands between an applicant and vetted, in words for the annotator."""
    missing = []
    if profile.email_verified_at is None:
        missing.append("verify your email address")
    if not profile_complete(profile.user):
        missing.append("complete your profile")
    if profile.identity_status != AnnotatorProfile.Identity.PASSED:
        missing.append("identity check by Cadre staff" + (" (failed: contact support)"
                                                           if profile.identity_status == "failed" else ""))
    return missing


def _advance(profile: AnnotatorProfile) -> AnnotatorProfile:
    """Applicant → vetted once nothing is missing (called inside each step's transaction)."""
    if profile.status == Status.APPLICANT and not vetting_missing(profile):
        _change(profile, Status.VETTED, actor=None,
                reason="Email verified, profile complete, identity check passed.")
    return profile


def vetting_record(*, annotator, reason: str = "Signed up.") -> StatusChange:
    """The first history row of a new annotator (sign-up service)."""
    profile = AnnotatorProfile.objects.get(user=annotator)
    return StatusChange.objects.create(annotator=annotator, from_status="", to_status=profile.status, reason=reason)


# --- email ------------------------------------------------------------------------------------

def email_token(*, annotator) -> str:
    return signing.dumps({"u": annotator.pk, "e": annotator.email}, salt=EMAIL_SALT)


def email_verification_send(*, annotator, email: str | None = None, link_base: str) -> str:
    """Set (optionally) the address and mail a signed verification link to it. ``link_base``
    is the absolute URL of the verify page without the token. Returns the link."""
    if email is not None:
        email = email.strip()
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": ["Enter a valid email address."]}) from None
        with transaction.atomic():
            profile = _locked(annotator)
            if email.lower() != (annotator.email or "").lower():
                annotator.email = email
                annotator.save(update_fields=["email"])
                profile.email_verified_at = None  # a new address must be verified again
                profile.save(update_fields=["email_verified_at"])
    if not annotator.email:
        raise ValidationError({"email": ["Add an email address first."]})
    link = f"{link_base}{email_token(annotator=annotator)}/"
    send_mail("Verify your email address for Cadre",
              f"Hello {annotator.username},\n\nopen this link to verify your email address:\n{link}\n\n"
              "It works for three days.", None, [annotator.email])
    return link


def email_verify(*, token: str) -> AnnotatorProfile:
    """Mark the address in a signed link as verified (idempotent)."""
    try:
        payload = signing.loads(token, salt=EMAIL_SALT, max_age=EMAIL_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError({"token": ["This link has expired: ask for a new one."]}) from None
    except signing.BadSignature:
        raise ValidationError({"token": ["This link is not valid."]}) from None
    with transaction.atomic():
        user = User.objects.filter(pk=payload.get("u")).first()
        if user is None:
            raise ValidationError({"token": ["This link is not valid."]})
        profile = _locked(user)
        if (user.email or "").lower() != (payload.get("e") or "").lower():
            raise ValidationError({"token": ["This link is for an address you have since changed."]})
        if profile.email_verified_at is None:
            profile.email_verified_at = timezone.now()
            profile.save(update_fields=["email_verified_at"])
        return _advance(profile)


def vetting_check(*, annotator) -> AnnotatorProfile:
    """Re-evaluate applicant → vetted (after the profile form or a survey)."""
    with transaction.atomic():
        return _advance(_locked(annotator))


# --- ops ------------------------------------------------------------------------------------

def identity_check_record(*, annotator, actor, passed: bool, note: str = "") -> AnnotatorProfile:
    if not (actor and actor.is_staff):
        raise ValidationError({"actor": ["Only Cadre staff record identity checks."]})
    note = (note or "").strip()
    if not passed and not note:
        raise ValidationError({"note": ["Say why the identity check failed."]})
    with transaction.atomic():
        profile = _locked(annotator)
        profile.identity_status = AnnotatorProfile.Identity.PASSED if passed else AnnotatorProfile.Identity.FAILED
        profile.identity_note = note
        profile.identity_checked_at = timezone.now()
        profile.identity_checked_by = actor
        profile.save(update_fields=["identity_status", "identity_note", "identity_checked_at", "identity_checked_by"])
        return _advance(profile)


def annotator_activate(*, annotator) -> AnnotatorProfile:
    """A vetted annotator accepts the code of conduct and becomes active."""
    with transaction.atomic():
        profile = _locked(annotator)
        if profile.status == Status.ACTIVE:
            return profile
        if profile.status != Status.VETTED:
            raise ValidationError({"status": ["Finish vetting first: " + ", ".join(vetting_missing(profile)) + "."]
                                   if profile.status == Status.APPLICANT else ["Your account is suspended."]})
        return _change(profile, Status.ACTIVE, actor=annotator, reason="Accepted the code of conduct.")


def annotator_suspend(*, annotator, actor, reason: str) -> AnnotatorProfile:
    """Platform-wide suspension by ops: no tasks on any project; open leases given back."""
    reason = (reason or "").strip()
    if not (actor and actor.is_staff):
        raise ValidationError({"actor": ["Only Cadre staff suspend annotators."]})
    if not reason:
        raise ValidationError({"reason": ["Give the reason for the suspension (the annotator sees it)."]})
    with transaction.atomic():
        profile = _locked(annotator)
        if profile.status == Status.SUSPENDED:
            raise ValidationError({"status": ["Already suspended."]})
        _change(profile, Status.SUSPENDED, actor=actor, reason=reason)
        project_ids = set(Lease.objects.filter(annotator=annotator, state=Lease.State.ACTIVE)
                          .values_list("project_id", flat=True))
        for project in Project.objects.filter(pk__in=project_ids).order_by("pk"):
            task_services.leases_release(project=project, annotator=annotator)
        return profile


def annotator_unsuspend(*, annotator, actor, reason: str) -> AnnotatorProfile:
    """Lift a suspension: back to active if the annotator had been active before, else to
    the stage vetting puts them in."""
    reason = (reason or "").strip()
    if not (actor and actor.is_staff):
        raise ValidationError({"actor": ["Only Cadre staff lift suspensions."]})
    if not reason:
        raise ValidationError({"reason": ["Give the reason for lifting the suspension."]})
    with transaction.atomic():
        profile = _locked(annotator)
        if profile.status != Status.SUSPENDED:
            raise ValidationError({"status": ["Not suspended."]})
        was_active = StatusChange.objects.filter(annotator=annotator, to_status=Status.ACTIVE).exists()
        if was_active:
            target = Status.ACTIVE
        else:
            target = Status.APPLICANT if vetting_missing(profile) else Status.VETTED
        return _change(profile, target, actor=actor, reason=reason)


def annotator_make_active(*, annotator, reason: str) -> AnnotatorProfile:
    """Builders outside the web journey (seed_demo, test factories): record every vetting
    step as done and the annotator as active, with history rows, through this module."""
    with transaction.atomic():
        profile = _locked(annotator)
        now = timezone.now()
        profile.email_verified_at = profile.email_verified_at or now
        profile.identity_status = AnnotatorProfile.Identity.PASSED
        profile.identity_checked_at = profile.identity_checked_at or now
        profile.save(update_fields=["email_verified_at", "identity_status", "identity_checked_at"])
        if profile.status != Status.ACTIVE:
            _change(profile, Status.ACTIVE, actor=None, reason=reason)
        return profile
