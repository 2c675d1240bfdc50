"""The per-class item model's stored state: annotator confusion rows, project class prior and
temperature, and the periodic re-estimate (the same engine calls the crowd replay makes).

Queries per scored answer stay O(1): one row per annotator on the item (at most the cap), one
project state row. The re-estimate reads the whole project and runs in its own Celery task
(``quality.refresh_model``) when ``engine.em.refresh_due`` says so — geometric schedule, one
project at a time, so a burst on one project never recomputes another.
"""
from __future__ import annotations

import json
import math

import numpy as np
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Project
from tasks_app.services.sql import prepared_cursor
from workforce.models import Membership

from ..engine.acceptance import reopen_decision
from ..engine.annotator import AnnotatorPosterior, posterior_update
from ..engine.confusion import Confusion, confusion_prior, prior_with_history
from ..engine.delivery import cross_fitted_outcomes, shadow_run
from ..engine.em import delivered_label, refit, refresh_due
from ..engine.gating import evidence_withheld
from ..engine.policy import shadow_eligible
from ..models import AnnotatorConfusion, AnnotatorQuality, ProjectModelState
from .common import _prior, project_bar, project_lock


def model_state(project: Project, *, lock: bool = False) -> ProjectModelState:
    k = len(project.labels)
    qs = ProjectModelState.objects.filter(project=project)
    state = (qs.select_for_update() if lock else qs).first()  # one statement, locked or not
    if state is None:
        state, _ = ProjectModelState.objects.get_or_create(
            project=project, defaults={"log_prior": [-math.log(k)] * k, "class_counts": [1.0] * k}
        )
        if lock:
            state = qs.select_for_update().get()
    if len(state.log_prior) != k:  # labels changed with a spec revision: start the prior afresh
        state.log_prior, state.class_counts = [-math.log(k)] * k, [1.0] * k
    return state


def model_state_count(project: Project, *, scored: int, posts: list[dict] = ()) -> tuple[int, int]:
    """``scored`` more scored answers and the posteriors of the items they decided (into the
    class prior), for one scoring transaction (one answer or a batch). Call it last in that
    transaction: it row-locks the project's state until commit. Returns (answers scored,
    answers at the last re-estimate) after the write, for ``engine.em.refresh_due``.

    Without a decided item it is one ``UPDATE … RETURNING`` (the count is added in SQL, so
    concurrent scorings need no read first); with one, the class prior is read-modify-write:
    the row is locked, then written."""
    if not posts:
        table = ProjectModelState._meta.db_table
        with prepared_cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET answers_scored = answers_scored + %s WHERE project_id = %s "
                "RETURNING answers_scored, answers_at_refresh",
                [scored, project.pk],
            )
            row = cursor.fetchone()
        if row is not None:
            return int(row[0]), int(row[1])
    if posts and connection.vendor == "postgresql":
        row = _state_counts_locked(project.pk)
        k = len(project.labels)
        if row is not None and len(_json(row[0]) or []) == k and len(_json(row[1]) or []) == k:  # else model_state's rules
            counts = _json(row[0])
            for post in posts:
                counts = [c + post.get(lab, 0.0) for c, lab in zip(counts, project.labels)]
            log_prior = [math.log(c / sum(counts)) for c in counts]
            return _state_counts_write(project.pk, scored, counts, log_prior)
    state = model_state(project, lock=True)
    state.answers_scored += scored
    fields = ["answers_scored"]
    if posts:
        counts = state.class_counts or [1.0] * len(project.labels)
        for post in posts:
            counts = [c + post.get(lab, 0.0) for c, lab in zip(counts, project.labels)]
        state.class_counts = counts
        state.log_prior = [math.log(c / sum(counts)) for c in counts]
        fields += ["class_counts", "log_prior"]
    state.save(update_fields=fields)
    return state.answers_scored, state.answers_at_refresh


def _json(v):
    return json.loads(v) if isinstance(v, (str, bytes)) else v


def _state_counts_locked(project_id: int):
    """The class counts of the project's state row, locked (prepared: the drain's read when a
    batch decided items; the ORM's ``model_state(lock=True)`` read the whole row, shadow sample too)."""
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT class_counts, log_prior FROM {ProjectModelState._meta.db_table} WHERE project_id = %s FOR UPDATE",
                       [project_id])
        return cursor.fetchone()


def _state_counts_write(project_id: int, scored: int, counts: list[float], log_prior: list[float]) -> tuple[int, int]:
    with prepared_cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProjectModelState._meta.db_table} SET answers_scored = answers_scored + %s, class_counts = %s::jsonb, "
            "log_prior = %s::jsonb WHERE project_id = %s RETURNING answers_scored, answers_at_refresh",
            [scored, json.dumps(counts), json.dumps(log_prior), project_id],
        )
        row = cursor.fetchone()
    return int(row[0]), int(row[1])


def annotator_prior(project: Project, annotator_id: int, membership: Membership | None,
                    history: tuple[int, int] | None = None) -> Confusion:
    """Qualifier prior plus the annotator's checks on other projects (down-weighted).
    ``history``: (correct, checks) on other projects when the caller read it already
    (:func:`_histories`), else read here."""
    post = _prior(project, membership)
    if history is None:
        hist = AnnotatorQuality.objects.filter(annotator_id=annotator_id).exclude(project=project).aggregate(
            c=Sum("checks_correct"), n=Sum("checks")
        )
        history = (int(hist["c"] or 0), int(hist["n"] or 0))
    post = prior_with_history(post, history[0], history[1])
    return confusion_prior(project.labels, post)


def _histories(project: Project, annotator_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(correct, checks) on other projects for each of these annotators, in one grouped read:
    the re-estimate needs every annotator's prior, and one aggregate each was its slowest part
    (100 annotators: ~100 statements while it holds the project's exclusive lock, which every
    scoring of the project waits for: issue 4's latency trace). The same sums as
    :func:`annotator_prior`'s own read."""
    rows = (AnnotatorQuality.objects.filter(annotator_id__in=annotator_ids).exclude(project=project)
            .values("annotator_id").annotate(c=Sum("checks_correct"), n=Sum("checks"))
            .values_list("annotator_id", "c", "n"))
    return {a: (int(c or 0), int(n or 0)) for a, c, n in rows}


def confusions(project: Project, annotator_ids: list[int], *, lock: bool = False) -> dict[int, AnnotatorConfusion]:
    """Rows for these annotators, created from their prior where missing."""
    if lock:  # in annotator order: two scorings locking overlapping rows cannot deadlock (prepared: the drain's read)
        from .hot_sql import confusions_locked

        rows = confusions_locked(project.pk, annotator_ids)
    else:
        rows = {r.annotator_id: r for r in AnnotatorConfusion.objects.filter(project=project, annotator_id__in=annotator_ids)}
    missing = [a for a in annotator_ids if a not in rows]
    if missing:
        members = {m.annotator_id: m for m in Membership.objects.filter(project=project, annotator_id__in=missing)}
        for a in missing:
            conf = annotator_prior(project, a, members.get(a))
            row, _ = AnnotatorConfusion.objects.get_or_create(project=project, annotator_id=a, defaults={"rows": conf.to_json()})
            rows[a] = row
    return rows


def confusion_of(row: AnnotatorConfusion, project: Project) -> Confusion:
    return Confusion.from_json(row.rows, project.labels)


def weightless_annotators(project: Project, annotator_ids: list[int] | None = None) -> set[int]:
    """Annotators whose answers carry no weight in item posteriors and re-estimates: revoked
    ones, and those whose accuracy is credibly below the bar now
    (``engine.gating.evidence_withheld``, reversible; the crowd replay applies the same rule).
    ``annotator_ids=None``: the whole project. One statement (the scoring hot path's budget,
    ``tests/quality/test_scoring_hot_path.py``): each membership LEFT JOINed to its quality row
    (unique per project and annotator; issue 9: one join instead of four correlated subqueries)."""
    sql = (
        f"SELECT m.annotator_id, m.standing, q.alpha, q.beta, q.checks, q.checks_correct "
        f"FROM {Membership._meta.db_table} m LEFT JOIN {AnnotatorQuality._meta.db_table} q "
        "ON q.project_id = m.project_id AND q.annotator_id = m.annotator_id WHERE m.project_id = %s"
    )
    params: list = [project.pk]
    if annotator_ids is not None:
        if not annotator_ids:
            return set()
        if connection.vendor == "postgresql":  # one statement text whatever the count: prepared once
            sql += " AND m.annotator_id = ANY(%s::bigint[])"
            params.append(list(annotator_ids))
        else:
            sql += f" AND m.annotator_id IN ({', '.join(['%s'] * len(annotator_ids))})"
            params += list(annotator_ids)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out: set[int] = set()
    bar = project_bar(project)
    for annotator_id, standing, alpha, beta, checks, correct in rows:
        withheld = bool(checks) and evidence_withheld(
            AnnotatorPosterior(alpha=alpha, beta=beta, checks=checks, correct=correct), bar=bar
        )
        if withheld or standing == Membership.Standing.REVOKED:
            out.add(annotator_id)
    return out


def _shadows(project, state, rows, known, audited, revoked, stored, members) -> tuple[dict, dict]:
    """Shadow deliveries of the known items, as the crowd replay runs them: each item's check
    answers in arrival order, only those whose author could have been given regular items when
    answering (``engine.shadow_eligible``, from their check record up to then) and who carries
    weight now, through the acceptance rule with leave-one-out confusion rows
    (``engine.delivery.shadow_run``). Known items whose key is under audit get none.
    Returns (item -> status, item -> answers used as (annotator, label))."""
    bar = project_bar(project)
    post = {}
    eligible: dict[str, list[tuple[int, str]]] = {}
    # the same few posteriors recur (annotators with the same qualifier and check record): a
    # Beta CDF each is the loop's cost, and the refresh holds the project's lock meanwhile
    is_eligible: dict = {}
    for i, a, lab, is_check, _, correct, _w in rows:
        it = str(i)
        if not is_check or it not in known:
            continue
        if a not in post:
            post[a] = _prior(project, members.get(a))
        if it in audited or a in revoked:
            ok = False
        else:
            ok = is_eligible.get(post[a])
            if ok is None:
                ok = is_eligible[post[a]] = shadow_eligible(post[a], bar=bar)
        if ok:
            eligible.setdefault(it, []).append((a, lab))
        if correct is not None:
            post[a] = posterior_update(post[a], bool(correct))
    status: dict[str, str] = {}
    used: dict[str, list[tuple[str, str]]] = {}
    for it, answers in eligible.items():
        loo = [(lab, confusion_of(stored[a], project).without(known[it], lab)) for a, lab in answers]
        status[it], n = shadow_run(project.labels, state.log_prior, loo, target=project.accuracy_target,
                                   cap=project.max_answers)
        used[it] = [(str(a), lab) for a, lab in answers[:n]]
    return status, used


def project_model_refresh(*, project_id: int) -> int:
    """Periodic re-estimate of one project (semi-supervised Dawid-Skene + temperature). Returns
    the number of answers it used (0 when a newer re-estimate wrote first: this one is dropped).

    Three steps (issue 4, latency): the inputs are read under the project's exclusive lock (a
    consistent snapshot: scorings in flight finish first), the fit runs *without* the lock, and
    its results are written under the lock again. Until then the lock was held for the whole
    fit — hundreds of ms at a few thousand answers, growing with the project — and every
    scoring of the project waited behind it: the latency bench's trace put most of the p99 in
    that wait. Answers scored between the read and the write are not lost: the confusion rows
    and class counts they moved (increments: ``Confusion.observe``, the decided items'
    posteriors) are carried onto the re-estimate (its value + what was added since the read),
    as if they had been scored just after it (they were scored with the rows before it; the
    next re-estimate fits them like every other answer). When nothing was scored meanwhile the
    result is exactly the one-transaction re-estimate's."""
    with transaction.atomic():
        project_lock(project_id, exclusive=True)  # first: scorings in flight finish, new ones wait
        project = Project.objects.get(pk=project_id)
        state = model_state(project, lock=True)
        revoked = weightless_annotators(project)  # revoked, or evidence withheld (below the bar now)
        rows = list(
            Answer.objects.filter(project=project, scored_at__isnull=False)
            .order_by("id").values_list("item_id", "annotator_id", "label", "is_check", "id", "correct", "weight")
        )
        known_rows = Item.objects.filter(project=project, is_known=True).values_list("id", "known_label", "status")
        known = {str(i): lab for i, lab, _ in known_rows}
        audited = {str(i) for i, _, st in known_rows if st != Item.Status.OPEN}  # key under audit: no shadow
        ids = sorted({r[1] for r in rows})
        stored = confusions(project, ids, lock=True)
        members = {m.annotator_id: m for m in Membership.objects.filter(project=project, annotator_id__in=ids)}
        history = _histories(project, ids)
        # the snapshot's rows, scored count, class counts and refresh count, for the write's carry-over
        snap_rows = {a: r.rows for a, r in stored.items()}
        snap_scored, snap_counts, snap_refreshes = state.answers_scored, list(state.class_counts or []), state.refreshes
    # the fit, unlocked: scorings go on meanwhile
    # with each answer's answer-quality weight, as the acceptance counts it (engine.em.dawid_skene)
    answers = [(str(r[0]), str(r[1]), r[2], r[6]) for r in rows if r[1] not in revoked]
    priors = {}
    for a in ids:
        priors[str(a)] = np.array(annotator_prior(project, a, members.get(a), history.get(a, (0, 0))).counts)
    default = np.array(confusion_prior(project.labels, _prior(project, None)).counts)
    shadow_status, shadow_used = _shadows(project, state, rows, known, audited, revoked, stored, members)
    fit = refit(project.labels, answers, known, shadow_used, priors, default)
    outcomes = cross_fitted_outcomes(project.labels, fit.shadow, known, fit.tau, fit.eps)
    fitted = {a: Confusion(project.labels, c.tolist()).to_json() for a in ids if (c := fit.result.counts.get(str(a))) is not None}
    class_counts = [float(v) for v in np.exp(fit.result.log_prior) * (len(fit.result.items) + len(project.labels))]
    log_prior = [float(v) for v in fit.result.log_prior]
    relabel = _delivered_labels(project, fit.result, fit.tau, fit.eps)
    with transaction.atomic():
        project_lock(project_id, exclusive=True)
        state = model_state(project, lock=True)
        if state.refreshes != snap_refreshes:
            return 0  # a newer re-estimate (read after ours) wrote first: its result stands
        moved = state.answers_scored != snap_scored
        stored = confusions(project, ids, lock=True)
        for a, fitted_rows in fitted.items():
            stored[a].rows = _carried(fitted_rows, snap_rows.get(a), stored[a].rows) if moved else fitted_rows
        AnnotatorConfusion.objects.bulk_update(list(stored.values()), ["rows"])
        if moved and len(snap_counts) == len(class_counts) == len(state.class_counts or []):
            class_counts = [f + max(0.0, n - s) for f, n, s in zip(class_counts, state.class_counts, snap_counts)]
            log_prior = [math.log(c / sum(class_counts)) for c in class_counts]
        state.log_prior = log_prior
        state.class_counts = class_counts
        state.tau = fit.tau
        state.eps = fit.eps
        # the claim's sample, as the crowd replay computes it: (status, cross-fitted label right?,
        # cross-fitted P — the difficulty score the claim post-stratifies on, the annotators whose
        # answers the shadow used — for the claim's measured design effect)
        state.shadow = {
            it: [shadow_status[it], lab == known[it], p, [a for a, _ in shadow_used.get(it, ())]]
            for it, (lab, p) in outcomes.items()
        }
        state.answers_at_refresh = len(rows)
        state.answers_scored = max(state.answers_scored, len(rows))
        state.answer_watermark = max((r[4] for r in rows), default=0)
        state.refreshes += 1
        state.refreshed_at = timezone.now()
        state.save()
        _reopen_unsettled(project, state, stored, weightless_annotators(project) if moved else revoked)
        _relabel_decided(project, relabel)
    return len(answers)


def project_model_refresh_if_due(*, project_id: int) -> int:
    """The ``quality.refresh_model`` task's entry: the re-estimate, unless it is no longer due
    (``engine.em.refresh_due`` on the state row): scoring enqueues it again every 100 answers
    while it stays due, and with the fit unlocked (see :func:`project_model_refresh`) scorings
    go on during one, so each crossing queued another that a re-estimate written meanwhile
    already covers (the latency bench's trace showed the extra ones). A lost re-estimate leaves
    it due, so the next one still runs. Returns the number of answers used, 0 when skipped."""
    row = ProjectModelState.objects.filter(project_id=project_id).values_list("answers_scored", "answers_at_refresh").first()
    if row is not None and not refresh_due(*row):
        return 0
    return project_model_refresh(project_id=project_id)


def _carried(fitted: dict, snap: dict | None, now: dict) -> dict:
    """The re-estimate's rows plus what scorings added to the stored rows since its read
    (``Confusion.observe`` only adds). Rows whose labels differ (a spec revision meanwhile) or
    that did not exist at the read keep the re-estimate's."""
    if not snap or snap.get("labels") != now.get("labels") or fitted.get("labels") != now.get("labels"):
        return fitted
    counts = [[round(f + max(0.0, n - s), 6) for f, n, s in zip(fr, nr, sr)]
              for fr, nr, sr in zip(fitted["counts"], now["counts"], snap["counts"])]
    return {"labels": fitted["labels"], "counts": counts}


def _reopen_unsettled(project: Project, state: ProjectModelState, stored: dict, weightless: set) -> int:
    """Accepted items whose acceptance no longer holds under the re-estimated rows and class
    prior go back to work (``engine.reopen_decision``; ``tasks_app.services.items_reopen``: open,
    one more answer wanted, out of the next batch), as the crowd replay does at each re-estimate.
    Answers enter with their stored answer-quality weight. One read (the accepted items'
    answers), then ``items_reopen``'s lock and updates when any item goes back. Returns how
    many items were reopened."""
    by_item: dict[int, list] = {}
    confs = {a: confusion_of(row, project) for a, row in stored.items() if a not in weightless}
    for item_id, a, label, weight in (
        Answer.objects.filter(item__project=project, item__is_known=False, item__status=Item.Status.ACCEPTED)
        .order_by("id").values_list("item_id", "annotator_id", "label", "weight")
    ):
        by_item.setdefault(item_id, []).append((label, confs.get(a), weight))
    reopen = [
        item_id for item_id, ans in by_item.items()
        if reopen_decision(project.labels, state.log_prior, [(lab, c) for lab, c, _ in ans],
                           target=project.accuracy_target, cap=project.max_answers,
                           weights=[w for _, _, w in ans]) is not None
    ]
    return task_services.items_reopen(item_ids=reopen, reason="re-estimate")


def _delivered_labels(project: Project, result, tau: float, eps: float) -> dict[int, tuple[str, float]]:
    """Every fitted item's delivered label and calibrated P (``engine.em.delivered_label``), for
    :func:`_relabel_decided`; computed before the re-estimate takes the lock for its write."""
    labels = list(project.labels)
    out = {}
    for j, i in enumerate(result.items):
        label, p = delivered_label(labels, result.log_prior, result.evidence[j], tau, eps)
        out[int(i)] = (label, round(p, 6))
    return out


def _relabel_decided(project: Project, targets: dict[int, tuple[str, float]]) -> int:
    """Decided items take the re-estimate's label and calibrated P(correct)
    (``targets``: :func:`_delivered_labels`, the MAP label, its tempered P), as the crowd replay's
    final re-estimate does; their status and decision time stay (an item is not reopened).
    Reads only the three columns it compares (it runs under the project's lock). Returns how
    many rows changed."""
    changed = []
    for pk, label_now, p_now in (Item.objects.select_for_update().filter(pk__in=list(targets), is_known=False)
                                 .exclude(status=Item.Status.OPEN).values_list("pk", "label", "p_correct")):
        label, p = targets[pk]
        if label != label_now or p_now is None or abs(p - p_now) > 1e-6:
            changed.append(Item(pk=pk, label=label, p_correct=p))
    Item.objects.bulk_update(changed, ["label", "p_correct"])
    return len(changed)
