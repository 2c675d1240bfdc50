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
from dataclasses import dataclass

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
from . import hot_sql, refresh_sql
from .common import _prior, project_bar, project_lock


def model_state(project: Project, *, lock: bool = False, create: bool = True) -> ProjectModelState:
    """The project's state row (created if missing). ``create=False``: a missing row is returned
    unsaved with the same defaults (the re-estimate's read-only snapshot; its write creates it)."""
    k = len(project.labels)
    qs = ProjectModelState.objects.filter(project=project)
    state = (qs.select_for_update() if lock else qs).first()  # one statement, locked or not
    if state is None and not create:
        state = ProjectModelState(project=project, log_prior=[-math.log(k)] * k, class_counts=[1.0] * k)
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


@dataclass
class _Read:
    """The re-estimate's inputs, read together (:func:`_refresh_read`)."""

    project: Project
    state: ProjectModelState  # as read; unsaved defaults when the project has no row yet
    revoked: set[int]  # weightless then (revoked, or evidence withheld)
    rows: list[tuple]  # scored answers: (item, annotator, label, is_check, id, correct, weight), id order
    known: dict[str, str]
    audited: set[str]
    ids: list[int]  # annotators with a scored answer
    stored: dict[int, AnnotatorConfusion]  # their rows; a stand-in from the prior where none existed yet
    missing: list[int]  # annotators whose row did not exist (created by the write)
    members: dict[int, Membership]
    history: dict[int, tuple[int, int]]
    decided: dict[int, tuple]  # decided regular item -> (status, label, p_correct, answers_count)
    accepted_answers: list[tuple]  # (item, annotator, label, weight) on accepted regular items, id order

    @property
    def accepted(self) -> dict[int, int]:
        return {i: d[3] for i, d in self.decided.items() if d[0] == Item.Status.ACCEPTED}


def _stored_rows(project: Project, annotator_ids: list[int]) -> dict[int, AnnotatorConfusion]:
    """The confusion rows that exist for these annotators, unlocked, none created."""
    return {r.annotator_id: r for r in AnnotatorConfusion.objects.filter(project=project, annotator_id__in=annotator_ids)}


def _refresh_read(project_id: int) -> _Read:
    """Everything the re-estimate fits and compares against, from one snapshot taken **without the
    project's lock** (``refresh_sql.snapshot``: a read-only REPEATABLE READ transaction), so the
    scorings of the project go on during it. Each scoring is one transaction, so the snapshot holds
    a set of whole scorings, the state row's answer count among them: the write's carry-over
    (:func:`_carried`) adds what was committed after it. Nothing is written here: a confusion row
    that does not exist yet stands in as :func:`confusions` would create it (the annotator's
    prior), and the write creates it. Called inside the caller's transaction (no snapshot of our
    own is possible there), the read takes the project's exclusive lock instead, as before."""
    with refresh_sql.snapshot() as snapshot:
        if not snapshot:
            project_lock(project_id, exclusive=True)  # scorings in flight finish, new ones wait
        project = Project.objects.get(pk=project_id)
        state = model_state(project, create=False)
        revoked = weightless_annotators(project)  # revoked, or evidence withheld (below the bar now)
        rows = list(
            Answer.objects.filter(project=project, scored_at__isnull=False)
            .order_by("id").values_list("item_id", "annotator_id", "label", "is_check", "id", "correct", "weight")
        )
        known_rows = list(Item.objects.filter(project=project, is_known=True).values_list("id", "known_label", "status"))
        ids = sorted({r[1] for r in rows})
        stored = _stored_rows(project, ids)
        members = {m.annotator_id: m for m in Membership.objects.filter(project=project, annotator_id__in=ids)}
        history = _histories(project, ids)
        decided = refresh_sql.decided_items(project_id)
        accepted_answers = list(
            Answer.objects.filter(item__project=project, item__is_known=False, item__status=Item.Status.ACCEPTED)
            .order_by("id").values_list("item_id", "annotator_id", "label", "weight")
        ) if any(d[0] == Item.Status.ACCEPTED for d in decided.values()) else []
    missing = [a for a in ids if a not in stored]
    for a in missing:
        conf = annotator_prior(project, a, members.get(a), history.get(a, (0, 0)))
        stored[a] = AnnotatorConfusion(project=project, annotator_id=a, rows=conf.to_json())
    return _Read(
        project=project, state=state, revoked=revoked, rows=rows,
        known={str(i): lab for i, lab, _ in known_rows},
        audited={str(i) for i, _, st in known_rows if st != Item.Status.OPEN},  # key under audit: no shadow
        ids=ids, stored=stored, missing=missing, members=members, history=history, decided=decided,
        accepted_answers=accepted_answers,
    )


def project_model_refresh(*, project_id: int) -> int:
    """Periodic re-estimate of one project (semi-supervised Dawid-Skene + temperature). Returns
    the number of answers it used (0 when a newer re-estimate wrote first: this one is dropped).

    Three steps (issue 4, latency: every scoring of the project waits while a re-estimate holds
    the project's exclusive lock):

    1. **Read**, from one snapshot without the lock (:func:`_refresh_read`).
    2. **Fit and decide**, without the lock: the fit, and everything the write needs that the
       snapshot determines — the rows to store, the decided items' new labels and P
       (:func:`_delivered_labels`), and which items accepted in the snapshot the re-estimate no
       longer accepts (:func:`_reopen_unsettled`, on the re-estimate's own rows and prior).
    3. **Write**, under the lock (:func:`_refresh_write`): a fixed handful of set-based
       statements whatever the project's size, sending only rows that change.

    The result is "the re-estimate, then the answers scored meanwhile": the confusion rows and
    class counts that scorings committed after the snapshot moved (increments:
    ``Confusion.observe``, the decided items' posteriors) are carried onto the re-estimate's; an
    item decided, reopened or given an answer after the snapshot keeps what that change wrote
    (the relabel writes a row only if it is still as read); an item accepted after the snapshot
    is re-decided under the lock with the carried rows. When nothing was scored meanwhile the
    result is exactly the one-transaction re-estimate's (``tests/quality/test_refresh_lock.py``).
    Decisions the issue left open: an acceptance the snapshot saw is re-decided with the
    re-estimate's rows, class prior and weightless set as of the snapshot (what a re-estimate run
    in one transaction at that moment decides), not with the carried rows of the write; until
    issue 4's change both the read and the write held the lock, and the reopen/relabel pass read
    and compared every decided item under it."""
    read = _refresh_read(project_id)
    project, state, rows, ids = read.project, read.state, read.rows, read.ids
    # the fit, unlocked: scorings go on meanwhile
    # with each answer's answer-quality weight, as the acceptance counts it (engine.em.dawid_skene)
    answers = [(str(r[0]), str(r[1]), r[2], r[6]) for r in rows if r[1] not in read.revoked]
    priors = {}
    for a in ids:
        priors[str(a)] = np.array(annotator_prior(project, a, read.members.get(a), read.history.get(a, (0, 0))).counts)
    default = np.array(confusion_prior(project.labels, _prior(project, None)).counts)
    shadow_status, shadow_used = _shadows(project, state, rows, read.known, read.audited, read.revoked, read.stored,
                                          read.members)
    fit = refit(project.labels, answers, read.known, shadow_used, priors, default)
    outcomes = cross_fitted_outcomes(project.labels, fit.shadow, read.known, fit.tau, fit.eps)
    fitted = {a: Confusion(project.labels, c.tolist()).to_json() for a in ids if (c := fit.result.counts.get(str(a))) is not None}
    class_counts = [float(v) for v in np.exp(fit.result.log_prior) * (len(fit.result.items) + len(project.labels))]
    log_prior = [float(v) for v in fit.result.log_prior]
    # the claim's sample, as the crowd replay computes it: (status, cross-fitted label right?,
    # cross-fitted P — the difficulty score the claim post-stratifies on, the annotators whose
    # answers the shadow used — for the claim's measured design effect)
    shadow = {
        it: [shadow_status[it], lab == read.known[it], p, [a for a, _ in shadow_used.get(it, ())]]
        for it, (lab, p) in outcomes.items()
    }
    # decided off the lock, against the snapshot
    rows_after = {a: fitted.get(a, read.stored[a].rows) for a in ids}
    reopen = _reopen_unsettled(project, log_prior, rows_after, read.revoked, read.accepted_answers)
    relabel = _relabel_changes(read.decided, _delivered_labels(project, fit.result, fit.tau, fit.eps))
    done = _refresh_write(read, fitted=fitted, class_counts=class_counts, log_prior=log_prior, tau=fit.tau,
                          eps=fit.eps, shadow=shadow, reopen=reopen, relabel=relabel)
    return len(answers) if done else 0


def _refresh_write(read: _Read, *, fitted: dict, class_counts: list[float], log_prior: list[float], tau: float,
                   eps: float, shadow: dict, reopen: list[int], relabel: list[tuple]) -> bool:
    """The re-estimate's write, under the project's exclusive lock. Statements: the lock, the
    state row (locked), the current confusion rows only if a scoring moved them since the read,
    one UPDATE of the rows that change, the state row, the accepted items' ids, the reopen
    (``items_reopen``, only when an item goes back) and one UPDATE of the relabelled items.
    False (nothing written) when a newer re-estimate wrote first."""
    project = read.project
    with transaction.atomic():
        project_lock(project.pk, exclusive=True)
        state = model_state(project, lock=True)
        if state.refreshes != read.state.refreshes:
            return False  # a newer re-estimate (read after ours) wrote first: its result stands
        moved = state.answers_scored != read.state.answers_scored
        if read.missing:  # created from the prior, as the read's stand-ins (rare: a scored answer makes one)
            confusions(project, read.missing, lock=True)
        snap = {a: r.rows for a, r in read.stored.items()}
        if moved:
            now = {a: r.rows for a, r in confusions(project, sorted(fitted), lock=True).items()}
            target = {a: _carried(f, snap.get(a), now[a]) for a, f in fitted.items()}
            changed = {a: r for a, r in target.items() if r != now[a]}
        else:
            target = fitted
            changed = {a: r for a, r in fitted.items() if r != snap.get(a)}
        refresh_sql.confusion_rows_write(project.pk, changed)
        if moved and len(read.state.class_counts or []) == len(class_counts) == len(state.class_counts or []):
            class_counts = [f + max(0.0, n - s) for f, n, s in zip(class_counts, state.class_counts, read.state.class_counts)]
            log_prior = [math.log(c / sum(class_counts)) for c in class_counts]
        state.log_prior = log_prior
        state.class_counts = class_counts
        state.tau = tau
        state.eps = eps
        state.shadow = shadow
        state.answers_at_refresh = len(read.rows)
        state.answers_scored = max(state.answers_scored, len(read.rows))
        state.answer_watermark = max((r[4] for r in read.rows), default=0)
        state.refreshes += 1
        state.refreshed_at = timezone.now()
        state.save()
        # reopen: the snapshot's acceptances as decided off the lock, if still accepted with the
        # same answers; acceptances the snapshot did not see, re-decided here with the carried rows
        accepted = refresh_sql.accepted_items(project.pk)
        before = read.accepted
        back = [i for i in reopen if i in accepted and accepted[i] == before.get(i)]
        fresh = sorted(i for i, n in accepted.items() if before.get(i) != n)
        if fresh:
            weightless = weightless_annotators(project) if moved else read.revoked
            back += _reopen_fresh(project, state.log_prior, target, weightless, fresh)
        if back:
            task_services.items_reopen(item_ids=sorted(back), reason="re-estimate")
        refresh_sql.items_relabel(relabel)
    return True


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


def _reopen_unsettled(project: Project, log_prior: list[float], rows: dict[int, dict], weightless: set,
                      answers: list[tuple]) -> list[int]:
    """The accepted items whose acceptance no longer holds under the re-estimated ``rows``
    (annotator -> confusion rows JSON) and class prior (``engine.reopen_decision``), as the crowd
    replay does at each re-estimate; they go back to work (``tasks_app.services.items_reopen``:
    open, one more answer wanted, out of the next batch). ``answers``: (item, annotator, label,
    weight) of the accepted items, in id order; each enters with its stored answer-quality weight,
    an annotator who is weightless or has no row with none. No database access: the re-estimate
    runs it before taking the lock. Returns the items to reopen."""
    by_item: dict[int, list] = {}
    confs = {a: Confusion.from_json(r, project.labels) for a, r in rows.items() if a not in weightless}
    for item_id, a, label, weight in answers:
        by_item.setdefault(item_id, []).append((label, confs.get(a), weight))
    return [
        item_id for item_id, ans in by_item.items()
        if reopen_decision(project.labels, log_prior, [(lab, c) for lab, c, _ in ans],
                           target=project.accuracy_target, cap=project.max_answers,
                           weights=[w for _, _, w in ans]) is not None
    ]


def _reopen_fresh(project: Project, log_prior: list[float], rows: dict[int, dict], weightless: set,
                  item_ids: list[int]) -> list[int]:
    """:func:`_reopen_unsettled` for items accepted after the re-estimate's snapshot (under the
    write's lock): their answers as they are now, the written rows (``rows``) or else the
    annotator's stored row. Few items: those accepted while the re-estimate fitted."""
    answers = [(i, a, lab, w) for _, i, a, lab, w in hot_sql.item_answers(item_ids)]
    others = sorted({a for _, a, _, _ in answers} - set(rows))
    stored = {a: r.rows for a, r in _stored_rows(project, others).items()} if others else {}
    return _reopen_unsettled(project, log_prior, {**stored, **rows}, weightless, answers)


def _delivered_labels(project: Project, result, tau: float, eps: float) -> dict[int, tuple[str, float]]:
    """Every fitted item's delivered label and calibrated P (``engine.em.delivered_label``), for
    :func:`_relabel_decided`; computed before the re-estimate takes the lock for its write."""
    labels = list(project.labels)
    out = {}
    for j, i in enumerate(result.items):
        label, p = delivered_label(labels, result.log_prior, result.evidence[j], tau, eps)
        out[int(i)] = (label, round(p, 6))
    return out


def _relabel_changes(decided: dict[int, tuple], targets: dict[int, tuple[str, float]]) -> list[tuple]:
    """The decided items (``decided``: id -> (status, label, p_correct, answers_count) as read)
    whose label or calibrated P the re-estimate changes (``targets``: :func:`_delivered_labels`),
    as ``refresh_sql.items_relabel`` takes them: each carries the values read, so the write skips
    an item changed since."""
    out = []
    for pk, (status, label_now, p_now, n) in decided.items():
        if pk not in targets:
            continue
        label, p = targets[pk]
        if label != label_now or p_now is None or abs(p - p_now) > 1e-6:
            out.append((pk, label, p, status, label_now, p_now, n))
    return out


def _relabel_decided(project: Project, targets: dict[int, tuple[str, float]]) -> int:
    """Decided items take the re-estimate's label and calibrated P(correct)
    (``targets``: :func:`_delivered_labels`, the MAP label, its tempered P), as the crowd replay's
    final re-estimate does; their status and decision time stay (an item is not reopened).
    The re-estimate itself compares against its snapshot off the lock (:func:`_relabel_changes`)
    and writes under it; this reads the decided items now. Returns how many rows changed."""
    return refresh_sql.items_relabel(_relabel_changes(refresh_sql.decided_items(project.pk), targets))
