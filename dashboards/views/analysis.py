"""Ops pages of the two analyses (thin: permission, read, one service call per form).

- ``/ops/projects/<id>/demographics/`` (+ ``.csv``): label distribution by annotator group with
  its test, and the audience mix requested vs achieved.
- ``/ops/projects/<id>/suspects/``: delivery batches with a button to find label-error
  suspects (a Celery task), the runs; ``…/suspects/runs/<run>/`` (+ ``.csv``) the ranked
  suspects with their item content, each corrected or kept from there
  (POST ``/ops/suspects/<id>/review/``).
"""
from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from tasks_app.models import DeliveryBatch, Project
from workforce.views.staff import staff_required

from ..analysis import charts as analysis_charts
from ..analysis import demographics as demo_sel
from ..analysis import suspects as suspect_svc
from ..models import Suspect, SuspectRun


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        # a spreadsheet must not run a cell as a formula (same rule as the payout CSV)
        writer.writerow([f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return response


@staff_required
@require_GET
def demographics(request, project_pk: int):
    project = get_object_or_404(Project, pk=project_pk)
    diff = demo_sel.label_differences(project=project)
    mix = demo_sel.audience_mix(project=project)
    charts = analysis_charts.difference_charts(diff)
    mix_chart = analysis_charts.mix_chart(mix)
    return render(request, "dashboards/analysis/demographics.html", {
        "project": project, "diff": diff, "mix": mix, "mix_chart": mix_chart, "has_charts": bool(charts or mix_chart),
        "attributes": [{"attribute": a, "chart": charts.get(a.key)} for a in diff.attributes],
    })


@staff_required
@require_GET
def demographics_csv(request, project_pk: int):
    project = get_object_or_404(Project, pk=project_pk)
    diff = demo_sel.label_differences(project=project)
    mix = demo_sel.audience_mix(project=project)
    rows = []
    for a in diff.attributes:
        t = a.test
        for g in a.groups:
            for lab in diff.labels:
                rows.append(["labels", a.key, g["group"], g["annotators"], g["answers"], lab, g["counts"][lab],
                             g["shares"][lab], g.get("mean", ""), t.method if t else "", t.p_value if t else "",
                             t.p_holm if t else "", t.effect_name if t else "", t.effect if t else ""])
    for b in mix["breakdown"]:
        for g in b["groups"]:
            rows.append(["audience", b["attribute"], g["group"], g["annotators"], g["answers"], "", "",
                         g["share_answers"], "", "", "", "", "", ""])
    for q in mix["quotas"]:
        rows.append(["quota", q["attribute"], "|".join(q["values"]), "", q["answers"], "", "", q["share"], "",
                     f"min {q['min_share']} max {q['max_share']}", "", "", "met", q["met"]])
    return _csv_response(f"project-{project.pk}-demographics.csv",
                         ["section", "attribute", "group", "annotators", "answers", "label", "count", "share", "mean",
                          "test", "p", "p_holm", "effect", "effect_value"], rows)


@staff_required
def suspects(request, project_pk: int):
    """GET: batches and runs. POST (batch): start a run over that batch."""
    project = get_object_or_404(Project, pk=project_pk)
    if request.method == "POST":
        raw = request.POST.get("batch", "")
        batch = DeliveryBatch.objects.filter(project=project, pk=int(raw)).first() if raw.isdigit() else None
        if batch is None:
            messages.error(request, "Choose one of this project's delivery batches.")
            return redirect("dashboards:suspects", project_pk=project.pk)
        run, created = suspect_svc.suspect_run_start(batch=batch, user=request.user)
        messages.success(request, f"Suspect run {run.pk} over batch {batch.number} "
                                  f"{'started' if created else 'is already waiting for a worker'}.")
        return redirect("dashboards:suspects", project_pk=project.pk)
    if request.method != "GET":
        return HttpResponse(status=405)
    batches = list(DeliveryBatch.objects.filter(project=project).order_by("-number")[:50])
    runs = suspect_svc.runs_for(project=project)
    return render(request, "dashboards/analysis/suspects.html", {
        "project": project, "batches": batches, "runs": runs,
        "pending": any(r.status == SuspectRun.Status.PENDING for r in runs)})


def _run_or_404(project_pk: int, run_pk: int) -> SuspectRun:
    return get_object_or_404(SuspectRun.objects.select_related("project", "batch"), pk=run_pk, project_id=project_pk)


def _item_text(data) -> str:
    if isinstance(data, dict) and isinstance(data.get("text"), str):
        return data["text"]
    return json.dumps(data, ensure_ascii=False)


@staff_required
@require_GET
def suspect_run(request, project_pk: int, run_pk: int):
    """The review page: ranked suspects with the item content, correct or keep each."""
    run = _run_or_404(project_pk, run_pk)
    rows = [{"s": s, "text": _item_text(s.item.data)} for s in suspect_svc.suspects_of(run=run)]
    pairs: dict[str, int] = {}
    for r in rows:
        key = f"{r['s'].given_label} → {r['s'].suggested_label}"
        pairs[key] = pairs.get(key, 0) + 1
    summary = suspect_svc.review_summary(run=run)
    charts = analysis_charts.suspect_charts(pairs=pairs, summary=summary)
    joint = run.method.get("confident_joint") or []
    classes = run.method.get("classes") or []
    return render(request, "dashboards/analysis/suspect_run.html", {
        "project": run.project, "run": run, "rows": rows, "pairs": pairs, "summary": summary, "charts": charts,
        "joint_rows": list(zip(classes, joint)), "classes": classes,
    })


@staff_required
@require_GET
def suspect_run_csv(request, project_pk: int, run_pk: int):
    run = _run_or_404(project_pk, run_pk)
    rows = ([s.rank, s.item.external_id, s.given_label, s.suggested_label, s.self_confidence, s.suggested_confidence,
             s.margin, s.outcome, s.final_label, s.reviewed_by.username if s.reviewed_by else "",
             s.reviewed_at.isoformat() if s.reviewed_at else ""] for s in suspect_svc.suspects_of(run=run))
    return _csv_response(f"project-{run.project_id}-suspects-run-{run.pk}.csv",
                         ["rank", "external_id", "delivered_label", "suggested_label", "p_delivered", "p_suggested",
                          "margin", "outcome", "final_label", "reviewed_by", "reviewed_at"], rows)


@staff_required
@require_POST
def suspect_review(request, suspect_pk: int):
    """POST outcome=corrected&label=… or outcome=kept."""
    suspect = get_object_or_404(Suspect.objects.select_related("run", "item"), pk=suspect_pk)
    back = redirect("dashboards:suspect_run", project_pk=suspect.run.project_id, run_pk=suspect.run_id)
    try:
        suspect_svc.suspect_review(suspect=suspect, outcome=request.POST.get("outcome", ""),
                                   label=request.POST.get("label") or None, user=request.user)
    except ValidationError as exc:
        for field, msgs in exc.message_dict.items():
            for m in msgs:
                messages.error(request, f"{suspect.item.external_id}: {m}")
        return back
    suspect.refresh_from_db()
    messages.success(request, f"{suspect.item.external_id}: {suspect.get_outcome_display().lower()} "
                              f"({suspect.final_label}).")
    return back
