"""Annotator sign-up."""
from __future__ import annotations


from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


from ..models import AnnotatorProfile, StatusChange

User = get_user_model()


def annotator_signup(*, username: str, password: str, display_name: str = "", email: str = ""):
    """Create an annotator account (user + profile) as an applicant: vetting
    (services/vetting.py) makes it active."""
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["Choose a user name."]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That user name is taken."]
    try:
        validate_password(password)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, email=email)
            AnnotatorProfile.objects.create(user=user, display_name=display_name.strip() or username,
                                            status=AnnotatorProfile.Status.APPLICANT)
            StatusChange.objects.create(annotator=user, from_status="", to_status=AnnotatorProfile.Status.APPLICANT,
                                        reason="Signed up.")
    except IntegrityError:  # a simultaneous sign-up took the name between the check and the insert
        raise ValidationError({"username": ["That user name is taken."]}) from None
    return user
