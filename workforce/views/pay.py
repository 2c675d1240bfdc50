"""Earnings (annotators), pay overview with low-pay projects, payout batches and their CSV (ops)."""
from __future__ import annotations

import csv
import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tasks_app.models import Project

from .. import selectors_pay, services
from ..forms import PayoutForm, PayRateForm
from ..models import PayoutBatch
from .common import _message_errors
from .staff import annotator_required, staff_required

ENTRIES_PER_PAGE = 25


@annotator_required
def earnings(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors_pay.earnings_of(annotator=request.user), ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, **selectors_pay.earnings_totals(annotator=request.user)}
    return render(request, "workforce/earnings.html", context)


@staff_required
def ops_pay(request: HttpRequest) -> HttpResponse:
    rows = selectors_pay.projects_pay_overview()
    return render(request, "workforce/ops_pay.html", {
        "rows": rows,
        "flagged": [r for r in rows if r.flagged],
        "minimum": selectors_pay.min_hourly_rate(),
        "currency": settings.CADRE_PAY_CURRENCY,
        "min_answers": settings.CADRE_MIN_RATE_ANSWERS,
    })


@staff_required
@require_http_methods(["POST"])
def ops_pay_rate(request: HttpRequest, project_id: int) -> HttpResponse:
    """Set a project's pay per accepted answer (applies to answers accrued from now on)."""
    project = get_object_or_404(Project, pk=project_id)
    form = PayRateForm(request.POST)
    if not form.is_valid():
        for msgs in form.errors.values():
            for msg in msgs:
                messages.error(request, msg)
    else:
        try:
            pay = services.project_pay_set(project=project, per_answer=form.cleaned_data["per_answer"],
                                           currency=form.cleaned_data["currency"])
        except ValidationError as exc:
            _message_errors(request, exc)
        else:
            messages.success(request, f"{project.name} now pays {pay.per_answer} {pay.currency} per accepted answer.")
    return redirect("workforce:ops_pay")


@staff_required
@require_http_methods(["GET", "POST"])
def ops_payouts(request: HttpRequest) -> HttpResponse:
    start, end = default_period()
    form = PayoutForm(request.POST or None, initial={"period_start": start, "period_end": end})
    if request.method == "POST" and form.is_valid():
        try:
            batch, created = services.payout_create(
                period_start=form.cleaned_data["period_start"], period_end=form.cleaned_data["period_end"],
                created_by=request.user,
            )
        except ValidationError as exc:
            _message_errors(request, exc)
        else:
            if created:
                messages.success(request, f"Payout batch {batch.period_start} – {batch.period_end}: {batch.entries} entries.")
            else:
                messages.info(request, "A batch for this period exists already: here it is, unchanged.")
            return redirect("workforce:ops_payouts")
    page = Paginator(selectors_pay.payout_batches(), 25).get_page(request.GET.get("page"))
    return render(request, "workforce/ops_payouts.html", {"form": form, "page": page})


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    """Text a spreadsheet will not run as a formula (user names are chosen by annotators)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_required
def ops_payout_csv(request: HttpRequest, batch_id: int) -> StreamingHttpResponse:
    """One row per annotator and currency of the batch, streamed."""
    batch = get_object_or_404(PayoutBatch, pk=batch_id)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["batch", "period_start", "period_end", "annotator_id", "username", "email", "currency",
                               "entries", "amount"])
        for r in selectors_pay.payout_rows(batch=batch):
            yield writer.writerow([batch.pk, batch.period_start, batch.period_end, r["annotator_id"],
                                   _cell(r["annotator__username"]), _cell(r["annotator__email"]), r["currency"],
                                   r["entries"], r["amount"]])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payout-{batch.pk}-{batch.period_start}-{batch.period_end}.csv"'
    return response


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Last full week (Monday to Sunday)."""
    today = today or dt.date.today()
    end = selectors_pay.week_start(today) - dt.timedelta(days=1)
    return end - dt.timedelta(days=6), end
