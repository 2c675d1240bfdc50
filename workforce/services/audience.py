"""Audience targeting: rules over profile attributes and platform standing, quotas on the
share of answers from a group, and the check task_next makes before handing out work.

Rules (all optional; an annotator must pass every rule given; a missing attribute fails it)::

    {"age": {"min": 18, "max": 35},              # age today (reported age + years since)
     "gender": ["woman"], "country": ["DE", "AT"], "education": ["bachelor", "master"],
     "languages": ["de"], "skills": ["medicine"], "device": ["phone"],   # any of the values
     "standing": {"min_accuracy": 0.85, "min_checks": 20}}              # platform-wide checks

Quotas: ``[{"attribute": "gender", "values": ["woman"], "min_share": 0.5}]`` — at least half of
the project's answers from women (``max_share`` caps a group instead). Counted over answers
plus leases out; enforced in :func:`tasking_blocked` by not handing an annotator outside (or
inside, for a cap) the group a task that would break the share.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from tasks_app import selectors as task_selectors
from tasks_app.models import Answer, Lease, Project

from .. import attributes
from ..models import AnnotatorProfile, AttributeValue, Audience, Invitation, Membership

RULE_KEYS = set(attributes.ATTRIBUTES) | {"standing"}
DEFAULT_MIN_CHECKS = 10


# --- validation -------------------------------------------------------------------------------

def _values(key: str, raw) -> list:
    if not isinstance(raw, list) or not raw:
        raise ValueError("Give a non-empty list of accepted values.")
    attr = attributes.ATTRIBUTES[key]
    out = []
    for v in raw:
        try:
            n = attributes.normalise(key, [v] if attr.kind == "multi" else v)
        except attributes.AttributeError_ as exc:
            raise ValueError(str(exc)) from None
        out.extend(n if isinstance(n, list) else [n])
    return sorted(set(out))


def rules_clean(rules) -> dict:
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise ValidationError({"rules": ["Give an object: attribute → rule."]})
    clean, errors = {}, {}
    for key, raw in rules.items():
        try:
            if key not in RULE_KEYS:
                raise ValueError(f"Unknown attribute; known: {', '.join(sorted(RULE_KEYS))}.")
            if key == "age":
                if not isinstance(raw, dict) or not set(raw) <= {"min", "max"} or not raw:
                    raise ValueError('Give {"min": <age>, "max": <age>} (either may be left out).')
                lo, hi = raw.get("min", attributes.MIN_AGE), raw.get("max", attributes.MAX_AGE)
                for v in (lo, hi):
                    if isinstance(v, bool) or not isinstance(v, int) or not attributes.MIN_AGE <= v <= attributes.MAX_AGE:
                        raise ValueError(f"Ages are whole numbers between {attributes.MIN_AGE} and {attributes.MAX_AGE}.")
                if lo > hi:
                    raise ValueError("min is above max.")
                clean[key] = {"min": lo, "max": hi}
            elif key == "standing":
                if not isinstance(raw, dict) or not set(raw) <= {"min_accuracy", "min_checks"} or "min_accuracy" not in raw:
                    raise ValueError('Give {"min_accuracy": 0..1, "min_checks": <n>} (min_checks optional).')
                acc, n = raw["min_accuracy"], raw.get("min_checks", DEFAULT_MIN_CHECKS)
                if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1:
                    raise ValueError("min_accuracy is a number between 0 and 1.")
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10000:
                    raise ValueError("min_checks is a whole number between 1 and 10000.")
                clean[key] = {"min_accuracy": float(acc), "min_checks": n}
            else:
                clean[key] = _values(key, raw)
        except ValueError as exc:
            errors[f"rules.{key}"] = [str(exc)]
    if errors:  # flat keys ("rules.<attribute>"): the API nests them
        raise ValidationError(errors)
    return clean


def quotas_clean(quotas) -> list:
    if quotas is None:
        return []
    if not isinstance(quotas, list) or len(quotas) > 10:
        raise ValidationError({"quotas": ["Give a list of at most 10 quotas."]})
    clean, errors, any_error = [], [], False
    for q in quotas:  # errors per row, flattened below to "quotas[i].<field>"
        err: dict[str, list[str]] = {}
        out = {}
        if not isinstance(q, dict):
            errors.append({"non_field_errors": ["Each quota is an object."]})
            any_error = True
            continue
        unknown = set(q) - {"attribute", "values", "min_share", "max_share"}
        if unknown:
            err["non_field_errors"] = [f"Unknown keys: {', '.join(sorted(map(str, unknown)))}."]
        key = q.get("attribute")
        if not isinstance(key, str) or key not in attributes.ATTRIBUTES or key == "age":
            err["attribute"] = [f"One of: {', '.join(k for k in attributes.ATTRIBUTES if k != 'age')}."]
        else:
            try:
                out = {"attribute": key, "values": _values(key, q.get("values"))}
            except ValueError as exc:
                err["values"] = [str(exc)]
        for share in ("min_share", "max_share"):
            if share in q:
                v = q[share]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                    err[share] = ["A share is a number above 0 and at most 1."]
                else:
                    out[share] = float(v)
        if "min_share" not in q and "max_share" not in q:
            err.setdefault("non_field_errors", []).append("Give min_share, max_share or both.")
        elif not err and out.get("min_share", 0) > out.get("max_share", 1):
            err["max_share"] = ["max_share is below min_share."]
        errors.append(err)
        any_error = any_error or bool(err)
        clean.append(out)
    if any_error:
        raise ValidationError({f"quotas[{i}].{field}": msgs for i, err in enumerate(errors) for field, msgs in err.items()})
    return clean


def audience_set(*, project: Project, rules=None, quotas=None, answers_per_day=None, invite_only: bool = False) -> Audience:
    """Replace a project's audience (validated whole first: a bad rule changes nothing)."""
    errors = {}
    clean_rules = clean_quotas = None
    try:
        clean_rules = rules_clean(rules)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        clean_quotas = quotas_clean(quotas)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if answers_per_day is not None and (isinstance(answers_per_day, bool) or not isinstance(answers_per_day, int)
                                        or not 1 <= answers_per_day <= 10_000_000):
        errors["answers_per_day"] = ["A whole number of answers per day, at least 1."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        audience, _ = Audience.objects.select_for_update().get_or_create(project=project)
        audience.rules, audience.quotas = clean_rules, clean_quotas
        audience.answers_per_day, audience.invite_only = answers_per_day, bool(invite_only)
        audience.save()
    return audience


# --- matching ---------------------------------------------------------------------------------

@dataclass
class Person:
    """What the rules look at for one annotator."""

    user_id: int
    attrs: dict  # key → (value, recorded date)
    checks: int = 0
    correct: int = 0


def people(user_ids=None) -> dict[int, Person]:
    """Active annotators (or the given ones, if active) with their current attributes and
    platform-wide scored checks."""
    q = AnnotatorProfile.objects.filter(status=AnnotatorProfile.Status.ACTIVE)
    if user_ids is not None:
        q = q.filter(user_id__in=list(user_ids))
    out = {uid: Person(uid, {}) for uid in q.values_list("user_id", flat=True)}
    for a in AttributeValue.objects.filter(annotator_id__in=list(out), is_current=True).only(
            "annotator_id", "key", "value", "recorded_at"):
        out[a.annotator_id].attrs[a.key] = (a.value, a.recorded_at.date())
    for row in (task_selectors.graded_known_checks().filter(annotator_id__in=list(out))
                .values("annotator_id").annotate(n=Count("id"), k=Count("id", filter=Q(correct=True)))):
        out[row["annotator_id"]].checks, out[row["annotator_id"]].correct = row["n"], row["k"]
    return out


def in_values(person: Person, key: str, values) -> bool:
    got = person.attrs.get(key)
    if got is None:
        return False
    value = got[0]
    return bool(set(value) & set(values)) if isinstance(value, list) else value in values


def matches(rules: dict, person: Person, today: date | None = None) -> bool:
    today = today or timezone.now().date()
    for key, rule in rules.items():
        if key == "age":
            got = person.attrs.get("age")
            if got is None or not rule["min"] <= attributes.age_now(got[0], got[1], today) <= rule["max"]:
                return False
        elif key == "standing":
            if person.checks < rule["min_checks"] or person.correct / person.checks < rule["min_accuracy"]:
                return False
        elif not in_values(person, key, rule):
            return False
    return True


def eligible_ids(project: Project) -> list[int]:
    """Active annotators who pass the project's rules (everyone active when it has none).
    Invitations are not required here: this is the pool invitations are drawn from."""
    audience = Audience.objects.filter(project=project).first()
    rules = audience.rules if audience else {}
    return sorted(uid for uid, p in people().items() if matches(rules, p))


def projects_for(*, annotator, projects: list[Project]) -> list[Project]:
    """The subset of ``projects`` the annotator may see: active, passing each project's
    rules, and invited to invite-only projects."""
    person = people([annotator.pk]).get(annotator.pk)
    if person is None:
        return []
    audiences = {a.project_id: a for a in Audience.objects.filter(project__in=projects)}
    invited = set(Invitation.objects.filter(annotator=annotator, project__in=projects)
                  .exclude(state=Invitation.State.DECLINED).values_list("project_id", flat=True))
    out = []
    for p in projects:
        a = audiences.get(p.pk)
        if a is None or (matches(a.rules, person) and (not a.invite_only or p.pk in invited)):
            out.append(p)
    return out


_AUDIENCE_CACHE = "_cadre_audience"  # set on a request's Project instance by project_visible


def _audience_of(project: Project) -> Audience | None:
    if hasattr(project, _AUDIENCE_CACHE):
        return getattr(project, _AUDIENCE_CACHE)
    if type(project).audience.is_cached(project):  # the task page loads it with the membership
        try:
            return project.audience
        except Audience.DoesNotExist:
            return None
    return Audience.objects.filter(project_id=project.pk).first()


def project_visible(*, annotator, project: Project) -> bool:
    """Whether the annotator may open the project's pages (join, tutorial, qualifier, task):
    the home page's test. On the task page's path this costs one query (the audience, kept on
    the request's project object for tasking_blocked) when the profile is already loaded."""
    profile = getattr(annotator, "annotator", None)
    if profile is None or profile.status != AnnotatorProfile.Status.ACTIVE:
        return False
    audience = Audience.objects.filter(project_id=project.pk).first()
    setattr(project, _AUDIENCE_CACHE, audience)
    if audience is None or (not audience.rules and not audience.invite_only):
        return True
    return bool(projects_for(annotator=annotator, projects=[project]))


# --- tasking ----------------------------------------------------------------------------------

def _group_q(quota: dict) -> Q:
    key, values = quota["attribute"], quota["values"]
    multi = attributes.ATTRIBUTES[key].kind == "multi"
    cond = Q()
    for v in values:
        cond |= Q(value__contains=[v]) if multi else Q(value=v)
    return cond


def quota_allows(*, project: Project, quota: dict, person: Person) -> bool:
    """Whether one more answer from ``person`` keeps the quota satisfiable."""
    members = AttributeValue.objects.filter(_group_q(quota), key=quota["attribute"], is_current=True).values("annotator_id")
    answers = Answer.objects.filter(project=project).aggregate(
        total=Count("id"), group=Count("id", filter=Q(annotator_id__in=members)))
    leases = Lease.objects.filter(project=project, state=Lease.State.ACTIVE).aggregate(
        total=Count("id"), group=Count("id", filter=Q(annotator_id__in=members)))
    total = answers["total"] + leases["total"] + 1
    group = answers["group"] + leases["group"]
    inside = in_values(person, quota["attribute"], quota["values"])
    if inside and "max_share" in quota and group + 1 > quota["max_share"] * total:
        return False
    if not inside and "min_share" in quota and (total - group) > (1 - quota["min_share"]) * total + 1e-9:
        return False
    return True


# Namespace of the per-project quota lock (a fixed int4 no other advisory lock uses; quality's
# scoring lock is 0x43414452).
QUOTA_LOCK_NAMESPACE = 0x51554F54  # "QUOT"


def has_quotas(project: Project) -> bool:
    audience = _audience_of(project)
    return bool(audience is not None and audience.quotas)


def quota_lock(*, project: Project) -> None:
    """Serialise the quota check and the lease it lets through, per project, until the caller's
    transaction ends. Without it, annotators asking at the same moment all read the same counts
    and all pass, overshooting a quota by the requests in flight. Only projects with quotas
    pay for it; a no-op on SQLite, which runs one writer at a time anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [QUOTA_LOCK_NAMESPACE, int(project.pk)])


def tasking_blocked(*, membership: Membership) -> bool:
    """Called once by task_next. Raises ValidationError when the annotator may not work
    (account not active, no longer in the audience, not invited to an invite-only project);
    returns True when a quota asks this annotator to wait (no task now), else False."""
    # Read fresh (a suspension counts at once), then kept on the user object, whose profile the
    # page's navigation reads again: one query, not two.
    # ``profile_read``: the task page loaded the profile with the membership in this request (issue 9).
    if getattr(membership, "profile_read", False):
        profile = getattr(membership.annotator, "annotator", None)
    else:
        profile = AnnotatorProfile.objects.filter(user_id=membership.annotator_id).first()
        if profile is not None:
            membership.annotator.annotator = profile
    row = profile.status if profile is not None else None
    if row != AnnotatorProfile.Status.ACTIVE:
        raise ValidationError({"membership": ["Your account is not active: see your account page."
                                              if row != AnnotatorProfile.Status.SUSPENDED else
                                              "Your account is suspended: see your account page."]})
    audience = _audience_of(membership.project)
    if audience is None or (not audience.rules and not audience.quotas and not audience.invite_only):
        return False
    person = people([membership.annotator_id])[membership.annotator_id]
    if not matches(audience.rules, person):
        raise ValidationError({"membership": ["This project's audience no longer includes you."]})
    if audience.invite_only and not Invitation.objects.filter(
            project_id=membership.project_id, annotator_id=membership.annotator_id,
            state=Invitation.State.ACCEPTED).exists():
        raise ValidationError({"membership": ["This project is by invitation: accept yours first."]})
    return any(not quota_allows(project=membership.project, quota=q, person=person) for q in audience.quotas)
