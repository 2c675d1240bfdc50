"""Annotator pages of vetting and profiles: account (status, email, code of conduct), email
verification link, profile form, surveys, invitations."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from .. import selectors, services
from ..forms import EmailForm, ProfileForm
from ..models import Invitation, Survey, SurveyQuestion
from ..services.vetting import vetting_missing


def _profile(request: HttpRequest):
    profile = selectors.profile_of(annotator=request.user) if request.user.is_authenticated else None
    if profile is None:
        raise PermissionDenied("These pages are for annotator accounts.")
    return profile


def _form_errors(form, exc: ValidationError) -> None:
    for field, msgs in (exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]):
        for msg in msgs:
            form.add_error(field if field in form.fields else None, msg)


def _verify_base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("workforce:verify_email", args=["T"]))[:-2]


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    profile = _profile(request)
    email_form = EmailForm(request.POST if request.POST.get("action") == "email" else None,
                           initial={"email": request.user.email})
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "email" and email_form.is_valid():
                services.email_verification_send(annotator=request.user, email=email_form.cleaned_data["email"],
                                                 link_base=_verify_base(request))
                messages.success(request, f"We sent a verification link to {request.user.email}.")
                return redirect("workforce:account")
            if action == "activate":
                services.annotator_activate(annotator=request.user)
                messages.success(request, "Your account is active: projects are open to you.")
                return redirect("workforce:home")
        except ValidationError as exc:
            _form_errors(email_form, exc) if action == "email" else [messages.error(request, m) for m in exc.messages]
    profile.refresh_from_db()
    return render(request, "workforce/account.html", {
        "profile": profile, "missing": vetting_missing(profile), "email_form": email_form,
        "history": selectors.status_history(annotator=request.user),
    })


@require_http_methods(["GET"])
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the verification email (signed, expires; works without being logged in)."""
    try:
        services.email_verify(token=token)
    except ValidationError as exc:
        return render(request, "workforce/verify_email.html", {"ok": False, "errors": exc.messages}, status=400)
    return render(request, "workforce/verify_email.html", {"ok": True})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    prof = _profile(request)
    if prof.status == "suspended":
        raise PermissionDenied("Your account is suspended.")
    current = selectors.attributes_current(annotator=request.user)
    form = ProfileForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(annotator=request.user, values=form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("workforce:account")
    return render(request, "workforce/profile.html", {"form": form, "current": current})


@login_required
def surveys(request: HttpRequest) -> HttpResponse:
    _profile(request)
    return render(request, "workforce/surveys.html", {"rows": selectors.surveys_for(annotator=request.user)})


def _survey_answers(request: HttpRequest, questions) -> dict:
    out = {}
    for q in questions:
        name = f"q-{q.pk}"
        out[str(q.pk)] = request.POST.getlist(name) if q.kind == SurveyQuestion.Kind.MULTI else request.POST.get(name)
    return out


@login_required
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, survey_id: int) -> HttpResponse:
    _profile(request)
    survey = get_object_or_404(Survey, pk=survey_id, is_open=True)
    questions = list(survey.questions.all())
    done = survey.completions.filter(annotator=request.user).first()
    errors, posted = {}, {}
    if request.method == "POST" and done is None:
        posted = _survey_answers(request, questions)
        try:
            services.survey_submit(survey=survey, annotator=request.user, answers=posted)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"survey": exc.messages}
            if "q-" not in "".join(errors):
                for m in exc.messages:
                    messages.error(request, m)
        else:
            messages.success(request, f"Thank you! {survey.reward} will be paid for this survey.")
            return redirect("workforce:surveys")
    rows = [{"q": q, "name": f"q-{q.pk}", "errors": errors.get(f"q-{q.pk}", []), "value": posted.get(str(q.pk))}
            for q in questions]
    return render(request, "workforce/survey.html", {"survey": survey, "rows": rows, "done": done})


@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    _profile(request)
    rows = Invitation.objects.filter(annotator=request.user).select_related("project").order_by("-created_at")
    return render(request, "workforce/invitations.html", {"rows": rows})


@login_required
@require_POST
def invitation_respond(request: HttpRequest, invitation_id: int) -> HttpResponse:
    _profile(request)
    inv = get_object_or_404(Invitation, pk=invitation_id, annotator=request.user)
    try:
        inv = services.invitation_respond(invitation=inv, annotator=request.user, accept=request.POST.get("accept") == "1")
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
    else:
        messages.success(request, "Invitation accepted: the project is in your list." if inv.state == "accepted"
                         else "Invitation declined.")
    return redirect("workforce:invitations")
