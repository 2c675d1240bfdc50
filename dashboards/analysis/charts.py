"""Chart specs of the analysis pages, in the shape ``dashboards/static/dashboards/charts.js``
draws (the same as ``dashboards.selectors.charts``): one spec is the chart, the table under it
(``dashboards/_chart.html``) and, on the page's CSV, the same numbers. Values are rounded to 4
decimals so the chart, the table and the CSV show one number. Pure functions of what the
selectors/services already computed."""
from __future__ import annotations

from typing import Any

from .demographics import Differences


def _r(v):
    return None if v is None else round(v, 4)


def difference_charts(diff: Differences) -> dict[str, dict[str, Any]]:
    """Attribute key → spec of its groups (mean rating for ratings, share of answers per label
    otherwise), for every attribute with shown groups."""
    charts = {}
    for a in diff.attributes:
        if not a.groups:
            continue
        columns = [{"key": "group", "label": "Group"}, {"key": "annotators", "label": "Annotators"},
                   {"key": "answers", "label": "Answers"}]
        if diff.kind == "ordinal":
            columns.append({"key": "mean", "label": "Mean rating"})
        label_keys = [f"share_{i}" for i in range(len(diff.labels))]
        columns += [{"key": k, "label": f"Share {lab}"} for k, lab in zip(label_keys, diff.labels)]
        rows = [[g["group"], g["annotators"], g["answers"]] + ([_r(g["mean"])] if diff.kind == "ordinal" else [])
                + [_r(g["shares"][lab]) for lab in diff.labels] for g in a.groups]
        if diff.kind == "ordinal":
            traces = [{"type": "bar", "name": "mean rating", "x": "group", "y": "mean"}]
            ytitle = "mean rating"
        else:
            traces = [{"type": "bar", "name": lab, "x": "group", "y": k} for k, lab in zip(label_keys, diff.labels)]
            ytitle = "share of answers"
        charts[a.key] = {"id": a.key, "title": f"{a.label}: {ytitle} by group", "columns": columns, "rows": rows,
                         "traces": traces,
                         "layout": {"barmode": "group", "yaxis": {"title": {"text": ytitle}}, "height": 320}}
    return charts


def mix_chart(mix: dict) -> dict[str, Any] | None:
    """Each quota: achieved share of answers beside the requested minimum and maximum."""
    if not mix["quotas"]:
        return None
    rows = [[f"{q['attribute']}: {', '.join(q['values'])}", _r(q["min_share"]), _r(q["max_share"]), q["answers"],
             q["total"], _r(q["share"]), "yes" if q["met"] else "no"] for q in mix["quotas"]]
    return {"id": "mix", "title": "Audience quotas: requested vs achieved",
            "columns": [{"key": "quota", "label": "Quota"}, {"key": "min", "label": "Min share"},
                        {"key": "max", "label": "Max share"}, {"key": "answers", "label": "Answers"},
                        {"key": "total", "label": "All answers"}, {"key": "share", "label": "Achieved share"},
                        {"key": "met", "label": "Met"}],
            "rows": rows,
            "traces": [{"type": "bar", "name": "achieved share of answers", "x": "quota", "y": "share"},
                       {"type": "bar", "name": "requested minimum", "x": "quota", "y": "min"},
                       {"type": "bar", "name": "requested maximum", "x": "quota", "y": "max"}],
            "layout": {"barmode": "group", "yaxis": {"range": [0, 1], "title": {"text": "share"}}, "height": 320}}


def suspect_charts(*, pairs: dict[str, int], summary: dict) -> list[dict[str, Any]]:
    """Suspects by delivered → suggested label, and the review outcomes so far (none when the
    run found no suspect)."""
    if not pairs:
        return []
    return [
        {"id": "pairs", "title": "Suspects by delivered → suggested label",
         "columns": [{"key": "pair", "label": "Delivered → suggested"}, {"key": "suspects", "label": "Suspects"}],
         "rows": [[k, n] for k, n in pairs.items()],
         "traces": [{"type": "bar", "name": "suspects", "x": "pair", "y": "suspects"}], "layout": {"showlegend": False}},
        {"id": "outcomes", "title": "Review outcomes",
         "columns": [{"key": "outcome", "label": "Outcome"}, {"key": "suspects", "label": "Suspects"}],
         "rows": [["not reviewed", summary["open"]], ["corrected", summary["corrected"]], ["kept", summary["kept"]]],
         "traces": [{"type": "bar", "name": "suspects", "x": "outcome", "y": "suspects"}], "layout": {"showlegend": False}},
    ]
