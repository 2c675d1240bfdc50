"""The annotator table of a project page: standing, accuracy with its interval, volume,
answer-quality flags and effective hourly rate, sorted and filtered on the server (query
parameters, so it works without JavaScript).

Answer-quality flags, per annotator: **pasted** = answers during which text was pasted on the
task page (``signals.pastes`` > 0); **fast** = answers whose time on task was under
``FAST_SHARE`` of the project's median time on task (needs ``FAST_MIN_TIMED`` timed answers in
the project). ``flags`` = answers with at least one of the two."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

from quality import selectors as quality_selectors
from tasks_app.models import Answer, Project
from workforce.models import Membership
from workforce.selectors_pay import hourly_rates, time_on_task_ms

FAST_SHARE = 0.25
FAST_MIN_TIMED = 5

SORT_KEYS = ("username", "standing", "stage", "accuracy", "lower", "checks", "answers", "flags", "hourly")
DEFAULT_SORT = "accuracy"  # least accurate first: the ones to look at


@dataclass(frozen=True)
class AnnotatorQuery:
    sort: str = DEFAULT_SORT
    descending: bool = False
    standing: str = ""
    stage: str = ""
    q: str = ""
    flagged: bool = False
    min_answers: int = 0

    @classmethod
    def from_params(cls, params) -> tuple[AnnotatorQuery, dict[str, str]]:
        """Parse query parameters; unknown values give field errors (and the defaults)."""
        errors: dict[str, str] = {}
        raw_sort = params.get("sort", "") or DEFAULT_SORT
        descending = raw_sort.startswith("-")
        sort = raw_sort.lstrip("-")
        if sort not in SORT_KEYS:
            errors["sort"] = f"sort by one of: {', '.join(SORT_KEYS)} (prefix '-' for descending)."
            sort, descending = DEFAULT_SORT, False
        standing = params.get("standing", "")
        if standing and standing not in Membership.Standing.values:
            errors["standing"] = f"standing is one of: {', '.join(Membership.Standing.values)}."
            standing = ""
        stage = params.get("stage", "")
        if stage and stage not in Membership.Stage.values:
            errors["stage"] = f"stage is one of: {', '.join(Membership.Stage.values)}."
            stage = ""
        min_answers = 0
        if params.get("min_answers", ""):
            try:
                min_answers = int(params["min_answers"])
                if min_answers < 0:
                    raise ValueError
            except ValueError:
                errors["min_answers"] = "min_answers is a whole number ≥ 0."
                min_answers = 0
        return cls(sort=sort, descending=descending, standing=standing, stage=stage, q=params.get("q", "")[:150].strip(),
                   flagged=params.get("flagged", "") in ("1", "on", "true"), min_answers=min_answers), errors


def answer_flags(*, project: Project) -> dict[int, dict[str, int]]:
    """annotator id → {"pasted": n, "fast": n, "flags": n} over the project's answers."""
    rows = list(Answer.objects.filter(project=project).values_list("annotator_id", "duration_ms", "signals"))
    times = []
    for _, duration, signals in rows:
        signals = signals if isinstance(signals, dict) else {}
        times.append(time_on_task_ms(duration, signals.get("visible_ms")))
    timed = [t for t in times if t is not None]
    cutoff = FAST_SHARE * median(timed) if len(timed) >= FAST_MIN_TIMED else None
    out: dict[int, dict[str, int]] = {}
    for (annotator_id, _, signals), ms in zip(rows, times):
        signals = signals if isinstance(signals, dict) else {}
        pastes = signals.get("pastes", 0)
        pasted = isinstance(pastes, (int, float)) and not isinstance(pastes, bool) and pastes > 0
        fast = cutoff is not None and ms is not None and ms < cutoff
        f = out.setdefault(annotator_id, {"pasted": 0, "fast": 0, "flags": 0})
        f["pasted"] += pasted
        f["fast"] += fast
        f["flags"] += pasted or fast
    return out


def annotator_table(*, project: Project, query: AnnotatorQuery = AnnotatorQuery()) -> list[dict[str, Any]]:
    rows = quality_selectors.project_annotators(project=project)
    flags = answer_flags(project=project)
    rates = hourly_rates(project_ids=[project.pk])
    for row in rows:
        f = flags.get(row["annotator_id"], {"pasted": 0, "fast": 0, "flags": 0})
        row.update(f)
        rate = rates.get((row["annotator_id"], project.pk))
        row["hourly"] = rate.hourly if rate else None
        row["currency"] = rate.currency if rate else ""
    if query.standing:
        rows = [r for r in rows if r["standing"] == query.standing]
    if query.stage:
        rows = [r for r in rows if r["stage"] == query.stage]
    if query.q:
        rows = [r for r in rows if query.q.lower() in r["username"].lower()]
    if query.flagged:
        rows = [r for r in rows if r["flags"]]
    if query.min_answers:
        rows = [r for r in rows if r["answers"] >= query.min_answers]
    # Empty values (no accuracy yet, no hourly rate) always go last, whichever the direction.
    present = [r for r in rows if r[query.sort] is not None]
    missing = [r for r in rows if r[query.sort] is None]
    present.sort(key=lambda r: (r[query.sort], r["username"]), reverse=query.descending)
    missing.sort(key=lambda r: r["username"])
    return present + missing
