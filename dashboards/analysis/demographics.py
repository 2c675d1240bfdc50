"""Demographic analysis of a project's answers (reads only).

``label_differences``: for each grouping attribute (age band, gender, country, education —
the single-valued ones; multi-valued attributes such as languages put one person in several
groups and are not tested), the answers on the project's regular items (hidden checks left
out) grouped by the annotator's current attribute value, the test suited to the task type
(``dashboards.analysis.stats``: ratings → ordinal, everything else with a label → categorical)
and Holm's correction across the attributes tested.

Small groups: a group of fewer than ``SUPPRESS_BELOW`` (5, as in the audience estimate)
annotators is never shown nor tested, and annotators without a value for the attribute are left
out too; per attribute only how many were left out in all is shown, and only when that is
itself 5 or more ("fewer than 5" otherwise), so no small group's size can be read off.

``audience_mix``: the audience the customer asked for (rules, quotas) against the annotators
whose answers are in the project: for each rule how many of them pass it today, for each quota
the share of answers achieved, and per attribute the annotators and answers by group.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count
from django.utils import timezone

from tasks_app.models import Answer, Project
from workforce import attributes
from workforce.models import Audience, AttributeValue
from workforce.selectors import SUPPRESS_BELOW
from workforce.services import audience as audience_service

from .stats import GroupTest, Obs, group_test, holm

GROUPING = ("gender", "age", "country", "education")
AGE_BANDS = ((16, 24), (25, 34), (35, 44), (45, 54), (55, 200))


def age_band(age: int) -> str:
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
    return "unknown"


def analysis_kind(project: Project) -> str | None:
    """``ordinal`` for rating projects, ``categorical`` for label types, None for the rest."""
    if project.task_type == Project.TaskType.RATING:
        return "ordinal"
    if project.task_type in (Project.TaskType.SINGLE_CHOICE, Project.TaskType.MULTI_CHOICE, Project.TaskType.MOST_SIMILAR):
        return "categorical"
    return None


def _group_value(key: str, value, recorded: date, today: date) -> str | None:
    if value is None:
        return None
    if key == "age":
        return age_band(attributes.age_now(int(value), recorded, today))
    return str(value)


def _attributes_of(annotator_ids, keys, today: date) -> dict[str, dict[int, str]]:
    """key → annotator → group (current values only)."""
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for a in AttributeValue.objects.filter(annotator_id__in=list(annotator_ids), key__in=list(keys), is_current=True).only(
            "annotator_id", "key", "value", "recorded_at"):
        g = _group_value(a.key, a.value, a.recorded_at.date(), today)
        if g is not None:
            out[a.key][a.annotator_id] = g
    return out


def shown_groups(people_by_group: dict[str, int]) -> dict[str, str]:
    """Group → itself for groups of at least SUPPRESS_BELOW annotators; smaller groups are left
    out (not merged: an "other" of unrelated small groups is no group to compare, and Cadre's
    rule of topping "other" up with the smallest shown group would swallow a real one)."""
    return {g: g for g, n in people_by_group.items() if n >= SUPPRESS_BELOW}


def not_shown(n: int) -> str:
    """How many annotators were left out, itself never a number under SUPPRESS_BELOW."""
    return "none" if n == 0 else (str(n) if n >= SUPPRESS_BELOW else f"fewer than {SUPPRESS_BELOW}")


@dataclass
class AttributeResult:
    key: str
    label: str
    test: GroupTest | None
    groups: list[dict] = field(default_factory=list)  # group, annotators, answers, + shares or mean
    left_out: str = "none"  # annotators without a value or in groups under SUPPRESS_BELOW (see not_shown)
    note: str = ""


@dataclass
class Differences:
    kind: str | None
    answers: int
    annotators: int
    labels: list[str]
    attributes: list[AttributeResult]
    note: str = ""


def _answers(project: Project, kind: str) -> list[tuple[int, int, str | float]]:
    rows = Answer.objects.filter(project=project, item__is_known=False).values_list("item_id", "annotator_id", "label")
    out = []
    for item_id, annotator_id, label in rows.iterator(chunk_size=5000):
        if kind == "ordinal":
            try:
                out.append((item_id, annotator_id, float(label)))
            except (TypeError, ValueError):
                continue  # not a number: not a rating
        else:
            out.append((item_id, annotator_id, label))
    return out


def _text(value) -> str:
    """A label as shown: ratings without a needless ".0"."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def label_differences(*, project: Project, keys=GROUPING, today: date | None = None) -> Differences:
    kind = analysis_kind(project)
    if kind is None:
        return Differences(kind=None, answers=0, annotators=0, labels=[], attributes=[],
                           note=f"No group comparison for {project.get_task_type_display()} answers.")
    today = today or timezone.now().date()
    rows = _answers(project, kind)
    annotators = {a for _, a, _ in rows}
    attrs = _attributes_of(annotators, keys, today)
    labels = sorted({_text(v) for _, _, v in rows}, key=lambda v: (float(v), v) if kind == "ordinal" else (0, v))
    results: list[AttributeResult] = []
    for key in keys:
        group_of = attrs.get(key, {})
        people = Counter(group_of[a] for a in annotators if a in group_of)
        mapping = shown_groups(people)
        res = AttributeResult(key=key, label=attributes.ATTRIBUTES[key].label.split(" (")[0], test=None,
                              left_out=not_shown(len(annotators) - sum(n for g, n in people.items() if g in mapping)))
        obs = [Obs(item, a, mapping[group_of[a]], value) for item, a, value in rows
               if a in group_of and group_of[a] in mapping]
        by_group: dict[str, list[Obs]] = defaultdict(list)
        for o in obs:
            by_group[o.group].append(o)
        for g in sorted(by_group):
            row = {"group": g, "annotators": len({o.annotator for o in by_group[g]}), "answers": len(by_group[g])}
            if kind == "ordinal":
                row["mean"] = round(sum(float(o.value) for o in by_group[g]) / len(by_group[g]), 4)
            counts = Counter(_text(o.value) for o in by_group[g])
            row["counts"] = {lab: counts.get(lab, 0) for lab in labels}
            row["shares"] = {lab: round(counts.get(lab, 0) / len(by_group[g]), 4) for lab in labels}
            res.groups.append(row)
        if len(by_group) < 2:
            res.note = f"Fewer than two groups of at least {SUPPRESS_BELOW} annotators: nothing to compare."
        else:
            res.test = group_test(kind, obs, confidence=project.confidence)
        results.append(res)
    adjusted = holm([r.test.p_value if r.test else None for r in results])
    for r, p in zip(results, adjusted):
        if r.test is not None:
            r.test.p_holm = p
    return Differences(kind=kind, answers=len(rows), annotators=len(annotators), labels=labels, attributes=results)


def audience_mix(*, project: Project, today: date | None = None) -> dict:
    """Requested audience vs achieved, over the annotators with answers on regular items."""
    today = today or timezone.now().date()
    audience = Audience.objects.filter(project=project).first()
    rules = audience.rules if audience else {}
    quotas = audience.quotas if audience else []
    per_annotator: Counter = Counter({r["annotator_id"]: r["n"] for r in Answer.objects.filter(
        project=project, item__is_known=False).values("annotator_id").annotate(n=Count("id"))})
    total_answers = sum(per_annotator.values())
    active = audience_service.people(list(per_annotator))
    rule_rows = []
    for key, rule in rules.items():
        passing = [a for a, p in active.items() if audience_service.matches({key: rule}, p, today)]
        rule_rows.append({
            "attribute": key, "rule": rule, "annotators": len(active), "passing": len(passing),
            "answers_passing": sum(per_annotator[a] for a in passing),
            "share_passing": round(len(passing) / len(active), 4) if active else None,
        })
    quota_rows = []
    for q in quotas:
        inside = [a for a, p in active.items() if audience_service.in_values(p, q["attribute"], q["values"])]
        n = sum(per_annotator[a] for a in inside)
        share = n / total_answers if total_answers else None
        met = share is not None and share >= q.get("min_share", 0) - 1e-9 and share <= q.get("max_share", 1) + 1e-9
        quota_rows.append({"attribute": q["attribute"], "values": q["values"], "min_share": q.get("min_share"),
                           "max_share": q.get("max_share"), "answers": n, "total": total_answers,
                           "share": round(share, 4) if share is not None else None, "met": met})
    keys = [k for k in dict.fromkeys([*rules, *(q["attribute"] for q in quotas), "gender", "age", "country"])
            if k in attributes.ATTRIBUTES and attributes.ATTRIBUTES[k].kind != "multi"]
    attrs = _attributes_of(per_annotator, keys, today)
    breakdown = []
    for key in keys:
        group_of = attrs.get(key, {})
        people = Counter(group_of[a] for a in per_annotator if a in group_of)
        mapping = shown_groups(people)
        shown_people: Counter = Counter()
        shown_answers: Counter = Counter()
        for a, n in per_annotator.items():
            g = mapping.get(group_of.get(a))
            if g is not None:
                shown_people[g] += 1
                shown_answers[g] += n
        breakdown.append({"attribute": key, "groups": [
            {"group": g, "annotators": shown_people[g], "answers": shown_answers[g],
             "share_annotators": round(shown_people[g] / len(per_annotator), 4),
             "share_answers": round(shown_answers[g] / total_answers, 4)}
            for g in sorted(shown_people, key=lambda g: (-shown_answers[g], g))],
            "left_out": not_shown(len(per_annotator) - sum(shown_people.values()))})
    return {"rules": rule_rows, "quotas": quota_rows, "breakdown": breakdown, "annotators": len(per_annotator),
            "inactive": len(per_annotator) - len(active), "answers": total_answers, "requested": bool(rules or quotas)}
