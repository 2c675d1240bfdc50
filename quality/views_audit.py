"""Audit review pages: Cadre ops (staff) and the customer's own reviewers (signed in with a
customer account of the project's organization) check an audit's sample in the web app.

Review is blind: the page shows each sampled item and the label choices, not the label Cadre
delivered, so reviewers are not anchored by it. Thin: permission, form, one service call.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tasks_app.models import CustomerMember

from .models import Audit, AuditSample
from .services import audits as audit_services


def _org_of(user) -> int | None:
    return CustomerMember.objects.filter(user=user).values_list("organization_id", flat=True).first()


def _may_review(user, audit: Audit) -> bool:
    if user.is_active and user.is_staff:
        return True
    org = _org_of(user)
    return org is not None and org == audit.project.organization_id


def _audits_for(user):
    qs = Audit.objects.select_related("project", "batch").order_by("-id")
    if user.is_active and user.is_staff:
        return qs
    org = _org_of(user)
    if org is None:
        return None
    return qs.filter(project__organization_id=org)


def _audit_or_deny(request, audit_pk):
    audit = get_object_or_404(Audit.objects.select_related("project", "batch"), pk=audit_pk)
    if not _may_review(request.user, audit):
        raise PermissionDenied("This audit is reviewed by Cadre ops and the project's customer.")
    return audit


def reviewer_required(view):
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _text(data) -> str:
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return data["text"]
    import json

    return json.dumps(data, ensure_ascii=False, indent=1)


@reviewer_required
def audit_list(request):
    audits = _audits_for(request.user)
    if audits is None:
        raise PermissionDenied("Audits are reviewed by Cadre ops and customers.")
    return render(request, "quality/audits/list.html", {"audits": list(audits[:200])})


@reviewer_required
def audit_detail(request, audit_pk):
    """GET: the sample, blind. POST (sample, label): record one review."""
    audit = _audit_or_deny(request, audit_pk)
    if request.method == "POST":
        sample = get_object_or_404(AuditSample, pk=request.POST.get("sample") or 0, audit=audit)
        try:
            audit_services.audit_review(sample=sample, label=request.POST.get("label", ""), user=request.user)
        except ValidationError as exc:
            for msg in exc.messages:
                messages.error(request, msg)
        return redirect(f"{request.path}#s{sample.pk}")
    samples = list(audit.samples.select_related("item").order_by("id"))
    rows = [{"sample": s, "text": _text(s.item.data)} for s in samples]
    reviewed = sum(1 for s in samples if s.reviewer_label is not None)
    wrong = sum(1 for s in samples if s.reviewer_label is not None and not s.correct)
    cert = audit.batch.certificate or {}
    return render(request, "quality/audits/detail.html", {
        "audit": audit, "rows": rows, "labels": audit.project.labels, "reviewed": reviewed, "total": len(samples),
        "wrong": wrong, "complete": audit.status == Audit.Status.COMPLETE, "cert": cert,
    })


@require_POST
@reviewer_required
def audit_complete(request, audit_pk):
    audit = _audit_or_deny(request, audit_pk)
    try:
        result = audit_services.audit_complete(audit=audit)
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    else:
        messages.success(request, f"Audit complete: {result['wrong']} of {result['reviewed']} wrong, "
                                  f"{result['reopened']} item(s) reopened; the certificate is updated.")
    return redirect("audits:audit", audit_pk=audit.pk)
