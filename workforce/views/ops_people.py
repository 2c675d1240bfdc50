"""Ops pages (staff only) for the workforce: vetting queue, one annotator (identity check,
suspension, history, attributes), flagged profiles, survey editor, invitations of a project."""
from __future__ import annotations


from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tasks_app.models import Project

from .. import selectors, services
from ..forms import QuestionForm, SurveyCreateForm
from ..models import AnnotatorProfile, Invitation, ProfileFlag, Survey
from .staff import staff_required

User = get_user_model()




def _errors(request, exc: ValidationError) -> None:
    for m in exc.messages:
        messages.error(request, m)


@staff_required
def people(request: HttpRequest) -> HttpResponse:
    counts = {s: AnnotatorProfile.objects.filter(status=s).count() for s in AnnotatorProfile.Status.values}
    suspended = AnnotatorProfile.objects.filter(status="suspended").select_related("user").order_by("user__username")
    return render(request, "workforce/ops/people.html", {
        "queue": selectors.vetting_queue(), "counts": counts, "flags": len(selectors.flags_open()), "suspended": suspended,
        "live_projects": Project.objects.filter(status=Project.Status.LIVE).order_by("-launched_at", "-id")})


@staff_required
@require_http_methods(["GET", "POST"])
def person(request: HttpRequest, user_id: int) -> HttpResponse:
    profile = get_object_or_404(AnnotatorProfile.objects.select_related("user"), user_id=user_id)
    user = profile.user
    if request.method == "POST":
        action, note = request.POST.get("action"), request.POST.get("note", "")
        try:
            if action in ("identity_pass", "identity_fail"):
                services.identity_check_record(annotator=user, actor=request.user, passed=action == "identity_pass", note=note)
                messages.success(request, "Identity check recorded.")
            elif action == "suspend":
                services.annotator_suspend(annotator=user, actor=request.user, reason=note)
                messages.success(request, f"{user.username} is suspended.")
            elif action == "unsuspend":
                services.annotator_unsuspend(annotator=user, actor=request.user, reason=note)
                messages.success(request, "Suspension lifted.")
            else:
                messages.error(request, "Unknown action.")
        except ValidationError as exc:
            _errors(request, exc)
        return redirect("workforce:ops_person", user_id=user.pk)
    from ..services.vetting import vetting_missing

    return render(request, "workforce/ops/person.html", {
        "profile": profile, "person": user, "missing": vetting_missing(profile),
        "history": selectors.status_history(annotator=user),
        "attributes": selectors.attributes_current(annotator=user),
        "flags": ProfileFlag.objects.filter(annotator=user).order_by("-created_at"),
    })


@staff_required
@require_http_methods(["GET", "POST"])
def flags(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        flag = get_object_or_404(ProfileFlag, pk=request.POST.get("flag") if str(request.POST.get("flag", "")).isdigit() else 0)
        try:
            services.profile_flag_resolve(flag=flag, actor=request.user, resolution=request.POST.get("resolution", ""))
            messages.success(request, "Flag resolved.")
        except ValidationError as exc:
            _errors(request, exc)
        return redirect("workforce:ops_flags")
    return render(request, "workforce/ops/flags.html", {"flags": selectors.flags_open()})


@staff_required
@require_http_methods(["GET", "POST"])
def surveys(request: HttpRequest) -> HttpResponse:
    form = SurveyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            s = services.survey_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                for m in msgs:
                    form.add_error(field if field in form.fields else None, m)
        else:
            messages.success(request, "Survey created: add its questions.")
            return redirect("workforce:ops_survey", survey_id=s.pk)
    return render(request, "workforce/ops/surveys.html", {
        "form": form, "surveys": Survey.objects.order_by("-created_at", "-id")})


@staff_required
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, survey_id: int) -> HttpResponse:
    s = get_object_or_404(Survey, pk=survey_id)
    form = QuestionForm(request.POST if request.POST.get("action") == "question" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "question":
                if form.is_valid():
                    services.survey_question_add(survey=s, **form.cleaned_data)
                    messages.success(request, "Question added.")
                    return redirect("workforce:ops_survey", survey_id=s.pk)
            elif action in ("open", "close"):
                services.survey_open_set(survey=s, is_open=action == "open")
                messages.success(request, "Survey opened." if action == "open" else "Survey closed.")
                return redirect("workforce:ops_survey", survey_id=s.pk)
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                for m in msgs:
                    form.add_error(field if field in form.fields else None, m)
    return render(request, "workforce/ops/survey.html", {
        "survey": s, "form": form, "questions": s.questions.all(), "completions": s.completions.count()})


@staff_required
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest, project_pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_pk)
    if request.method == "POST":
        try:
            sent = services.invitations_send(project=project, size=int(request.POST.get("size") or 10))
            messages.success(request, f"Invited {len(sent)} annotators.")
        except (ValidationError, ValueError) as exc:
            _errors(request, exc if isinstance(exc, ValidationError) else ValidationError("Give a number."))
        return redirect("workforce:ops_invitations", project_pk=project.pk)
    rows = Invitation.objects.filter(project=project).select_related("annotator").order_by("rank")
    return render(request, "workforce/ops/invitations.html", {"project": project, "rows": rows})
