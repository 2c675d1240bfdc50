"""Crowd replay: real answers through Cadre's own quality engine, in memory, no Django.

Follows /benchmarks/replay.md: workers arrive in rounds (each round visits every active worker
once, order shuffled with the seed); at each visit the assignment policy gives one task — a
hidden check on a known item the worker has an answer for, or an incomplete item it has an
answer for and has not been given — or nothing, and the worker leaves (``engine.choose_item`` gets
the asker and each candidate's posterior and proven answers only with ``routing=True``: the
production order reads neither, worker-aware routing was measured and rejected, BENCHMARKS
"Crowd replay: routing"). Answers are scored with
the same engine functions the Celery task calls (``quality.services``):

* a check: Beta accuracy posterior + gating (through :func:`_gate`, the one adapter to the
  production gating function) and a one-hot observation in the annotator's confusion rows;
* a regular answer: :func:`quality.engine.decide_confusion` (per-class Dirichlet model and
  class prior) -> accepted / more / exhausted at the cap; a decided item feeds its posterior
  back into its annotators' rows (incremental Dawid-Skene);
* whenever ``quality.engine.em.refresh_due``: the periodic re-estimate
  :func:`quality.engine.em.refit` (Dawid-Skene over all answers so far, known items clamped,
  and the calibration ``tau``/``eps`` fitted on cross-fitted known items), then
  :func:`quality.engine.reopen_decision` on every accepted item and every accepted shadow
  delivery: an acceptance the re-estimated model no longer supports goes back to work (the
  production re-estimate task does the same, ``quality.services.model``).

Revoked workers leave. At the end, the delivered labels and probabilities come from one last
re-estimate (the same function). Claims: each known item also gets a *shadow delivery* — the
acceptance procedure run online on its check answers in arrival order, every annotator's rows
leaving this item's own check out — and its label and probability from a re-estimate that did
not see its known label (5-fold cross-fitting). Shadow outcomes post-stratified by decision
status and the items' calibrated P(correct) (cells pooled to a minimum size), weighted by the
delivery's own mix, give the claim: :func:`quality.engine.estimate.post_stratified_claim`
(one-sided Clopper-Pearson at the customer's confidence, counts divided by the design effect).
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from quality.engine import (
    AnnotatorPosterior,
    Candidate,
    ItemDecision,
    choose_item,
    default_bar,
    known_check_rate,
    posterior_update,
    prior_from_qualifier,
    proven,
    shadow_eligible,
)
from quality.engine.acceptance import decide_confusion, reopen_decision
from quality.engine.claim import items_claim
from quality.engine.confusion import Confusion, confusion_prior
from quality.engine.delivery import cross_fitted_outcomes, shadow_run
from quality.engine.em import delivered_label, refit, refresh_due
from quality.engine.estimate import SHADOW_DESIGN_EFFECT, difficulty_strata
from quality.engine.gating import evidence_withheld
from quality.engine.sprt import SprtDesign, WalkState, design_for, gate_step

# Replay cap on answers per item (Cadre projects set their own max_answers). The cap only binds on
# items still uncertain after several answers; easy items stop at 2-3.
DEFAULT_CAP = 10


def _rows(rows: Iterable[Any], keys: Sequence[str]) -> Iterable[tuple[str, ...]]:
    for r in rows:
        if isinstance(r, Mapping):
            yield tuple(str(r[k]) for k in keys)
        else:
            yield tuple(str(v) for v in r)


def _gate(design: SprtDesign, walk: WalkState, post: AnnotatorPosterior, correct: bool) -> WalkState:
    """The production gate (``quality.services.gating.annotator_gate`` runs the same walk and
    decision): one check through the SPRT. The replay has no tutorial, so a pause is followed at
    once by the return to work (the walk is kept, as in production)."""
    walk, _ = gate_step(design, walk, correct, post, resume_after_pause=True)
    return walk


class _Item:
    __slots__ = ("answers", "decision", "done", "given", "post", "used")

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, int]] = []  # (worker, label, seq) in arrival order
        self.given = 0  # known items: checks given (rotation), shadow-eligible or not
        self.decision: ItemDecision | None = None
        self.post: dict[str, float] | None = None  # regular items: posterior at the last answer (routing only)
        self.done = False
        self.used = 0  # shadow: answers the decision used


class _Worker:
    __slots__ = ("active", "conf", "eligible", "items", "known", "post", "proven", "rate", "walk", "withheld")

    def __init__(self, post: AnnotatorPosterior, conf: Confusion) -> None:
        self.post = post
        self.conf = conf
        self.walk = WalkState()
        # functions of the posterior, recomputed when it changes (at each check)
        self.withheld = False  # engine.gating.evidence_withheld
        self.rate = 1.0  # engine.policy.known_check_rate
        self.eligible = True  # engine.policy.shadow_eligible
        self.proven = False  # engine.policy.proven (routing only)
        self.items: list[str] = []  # regular items not yet given
        self.known: list[str] = []  # known items not yet given
        self.active = True


def run_replay(
    answers_rows: Iterable[Any],
    known_rows: Iterable[Any],
    target: float = 0.95,
    confidence: float = 0.95,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    cap: int = DEFAULT_CAP,
    trace: list | None = None,
    routing: bool = False,
) -> tuple[list[dict], dict]:
    """Run the simulation. Rows are mappings (item/worker/label, item/label) or tuples.

    ``trace``, if given, receives one (kind, item, worker, label) tuple per answer consumed.
    ``routing``: give ``choose_item`` the routing inputs a worker-aware order reads (the asker's
    posterior, confusion rows and bar; each candidate's label posterior and answers from proven
    annotators, counted by walking the item's answers). Production's order ignores them, so by
    default they are not computed (nor is each worker's ``proven`` flag); the ``ROUTE=`` variants
    of ``bench/replay_variants.py`` set it. Either way the same picks are made with the default order.
    Returns (delivered rows: item,label,p_correct,answers_used; summary dict).
    """
    rng = random.Random(seed)
    answer_of: dict[tuple[str, str], str] = {}
    worker_order: list[str] = []
    item_order: list[str] = []
    workers_items: dict[str, list[str]] = {}
    item_workers: dict[str, list[str]] = {}
    seen_items: set[str] = set()
    labels_seen: dict[str, None] = {}
    for item, worker, label in _rows(answers_rows, ("item", "worker", "label")):
        if (item, worker) in answer_of:
            continue  # repeated pair: first one counts
        answer_of[(item, worker)] = label
        labels_seen.setdefault(label, None)
        if worker not in workers_items:
            workers_items[worker] = []
            worker_order.append(worker)
        workers_items[worker].append(item)
        item_workers.setdefault(item, []).append(worker)
        if item not in seen_items:
            seen_items.add(item)
            item_order.append(item)
    known: dict[str, str] = {}
    for item, label in _rows(known_rows, ("item", "label")):
        known.setdefault(item, label)
    for lab in known.values():
        labels_seen.setdefault(lab, None)
    labels = sorted(labels_seen)
    if len(labels) < 2:
        labels.append("\x00other")
    n_labels = len(labels)
    lab_ix = {lab: i for i, lab in enumerate(labels)}
    bar = default_bar(n_labels)
    design = design_for(bar, n_labels)
    prior = prior_from_qualifier(None, None, n_labels)
    conf_prior = confusion_prior(labels, prior)
    prior_arr = np.array(conf_prior.counts)

    workers: dict[str, _Worker] = {}
    for w in worker_order:
        ws = _Worker(prior, conf_prior.copy())
        ws.rate, ws.eligible = known_check_rate(prior, bar=bar), shadow_eligible(prior, bar=bar)
        for it in workers_items[w]:
            (ws.known if it in known else ws.items).append(it)
        workers[w] = ws
    items: dict[str, _Item] = {it: _Item() for it in item_order if it not in known}
    shadows: dict[str, _Item] = {it: _Item() for it in item_order if it in known}

    # project-level model state: class prior (log), evidence temperature, refresh bookkeeping
    model = {"log_prior": [-math.log(n_labels)] * n_labels, "tau": 1.0, "watermark": 0, "at_last": 0,
             "refreshes": 0, "reopened": 0, "shadows_reopened": 0}
    class_counts = [1.0] * n_labels
    log_answers: list[tuple[str, str, str]] = []  # (item, worker, label) in arrival order, all kinds

    def weightless(w: str) -> bool:
        ws = workers[w]
        return ws.withheld or ws.walk.standing == "revoked"

    def conf_of(w: str) -> Confusion | None:
        return None if weightless(w) else workers[w].conf

    def shadow_conf(x: str, it: str, lab: str) -> Confusion | None:
        c = conf_of(x)
        return None if c is None else c.without(known[it], lab)

    def decide(st_answers, confs) -> tuple[ItemDecision, dict[str, float]]:
        return decide_confusion(
            labels, model["log_prior"], [(lab, c) for (_, lab, _), c in zip(st_answers, confs)],
            tau=1.0, target=target, cap=cap,
        )

    def learn_from_decision(st: _Item, post: dict[str, float]) -> None:
        """Incremental M-step: the decided item's posterior as soft truth for answers the last
        re-estimate has not seen."""
        for w, lab, seq in st.answers:
            if seq >= model["watermark"]:
                workers[w].conf.observe(post, lab)
        for lab, p in post.items():
            class_counts[lab_ix[lab]] += p
        tot = sum(class_counts)
        model["log_prior"] = [math.log(c / tot) for c in class_counts]

    def shadow_outcome(it: str, sh: _Item) -> tuple[str, list[tuple[str, str, int]]]:
        """(status, answers used) of a known item's shadow delivery. An answer whose author now
        carries no weight is taken out, and the decision is re-run on what remains in arrival
        order, as a regular item would have asked for the next answer instead (annotators get
        checks only while calibrating or probably below the bar, so regular items seldom saw
        such answers; a shadow merely truncated would be measured on a worse crowd)."""
        if not sh.done:
            return "exhausted", [a for a in sh.answers if not weightless(a[0])]
        used = sh.answers[: sh.used]
        if not any(weightless(x) for x, _, _ in used):
            return sh.decision.status, used
        kept = [a for a in sh.answers if not weightless(a[0])]
        status, n = shadow_run(labels, model["log_prior"], [(lab, shadow_conf(x, it, lab)) for x, lab, _ in kept],
                               target=target, cap=cap)
        return status, kept[:n]

    def shadow_used() -> dict[str, list[tuple[str, str]]]:
        return {it: [(w, lab) for w, lab, _ in shadow_outcome(it, sh)[1]] for it, sh in shadows.items()}

    def live_rows() -> list[tuple[str, str, str]]:
        return [(it, w, lab) for it, w, lab in log_answers if not weightless(w)]

    def refresh() -> None:
        fit = refit(labels, live_rows(), known, shadow_used(), {}, prior_arr, iters=20)
        for w, counts in fit.result.counts.items():
            workers[w].conf = Confusion(labels, counts.tolist())
        model["log_prior"] = [float(v) for v in fit.result.log_prior]
        class_counts[:] = list(np.exp(fit.result.log_prior) * (len(fit.result.items) + n_labels))
        model["tau"] = fit.tau
        model["watermark"] = len(log_answers)
        model["at_last"] = len(log_answers)
        model["refreshes"] += 1
        reopen_unsettled()

    def still_open(st_answers, confs) -> ItemDecision | None:
        return reopen_decision(labels, model["log_prior"], [(lab, c) for (_, lab, _), c in zip(st_answers, confs)],
                               target=target, cap=cap)

    def reopen_unsettled() -> None:
        """``engine.reopen_decision`` after each re-estimate (production: the refresh task):
        accepted items whose acceptance no longer holds go back to the annotators who have an
        answer for them and have not given it; a known item's shadow delivery is re-decided the
        same way and continues on the check answers it has received since."""
        for it, st in items.items():
            if not st.done or st.decision is None or st.decision.status != "accepted":
                continue
            dec = still_open(st.answers, [conf_of(x) for x, _, _ in st.answers])
            if dec is None:
                continue
            st.done = False
            st.decision = dec
            model["reopened"] += 1
            given = {x for x, _, _ in st.answers}
            for x in item_workers[it]:
                if x not in given and workers[x].active and it not in workers[x].items:
                    workers[x].items.append(it)
        for it, sh in shadows.items():
            if not sh.done or sh.decision is None or sh.decision.status != "accepted":
                continue
            used = sh.answers[: sh.used]
            dec = still_open(used, [shadow_conf(x, it, lab) for x, lab, _ in used])
            if dec is None:
                continue
            sh.done = False
            sh.decision = dec
            model["shadows_reopened"] += 1
            for n in range(sh.used + 1, len(sh.answers) + 1):
                dec, _ = decide(sh.answers[:n], [shadow_conf(x, it, lab) for x, lab, _ in sh.answers[:n]])
                sh.decision = dec
                if dec.status != "more":
                    sh.done = True
                    sh.used = n
                    break

    answers_used = 0
    known_checks = 0
    revoked = 0
    warned_ever: set[str] = set()
    rounds = 0
    active = list(worker_order)
    total_possible = len(answer_of)
    while active:
        rounds += 1
        order = active[:]
        rng.shuffle(order)
        for w in order:
            ws = workers[w]
            if not ws.active:
                continue
            # --- assignment policy -------------------------------------------------------
            # a shadow delivery takes only answers a regular item could have received: from an
            # annotator the policy would also give regular items at this moment (ws.eligible)
            want_check = rng.random() < ws.rate
            task: tuple[str, str] | None = None
            for kind in (("known", "item") if want_check else ("item", "known")):
                if kind == "known" and ws.known:
                    c = choose_item([Candidate(it, -shadows[it].given) for it in ws.known], rng)
                    ws.known.remove(c.item)
                    task = ("known", c.item)
                    break
                if kind == "item":
                    ws.items = [it for it in ws.items if not items[it].done]
                    if ws.items:
                        if routing:
                            c = choose_item([Candidate(it, len(items[it].answers), posterior=items[it].post,
                                                       proven_answers=sum(workers[x].proven for x, _, _ in items[it].answers))
                                             for it in ws.items], rng, asker=ws.post, confusion=ws.conf, bar=bar)
                        else:
                            c = choose_item([Candidate(it, len(items[it].answers)) for it in ws.items], rng)
                        ws.items.remove(c.item)
                        task = ("item", c.item)
                        break
            if task is None:
                ws.active = False
                continue
            kind, it = task
            label = answer_of[(it, w)]
            answers_used += 1
            seq = len(log_answers)
            log_answers.append((it, w, label))
            if trace is not None:
                trace.append((kind, it, w, label))
            # --- scoring ------------------------------------------------------------------
            if kind == "known":
                known_checks += 1
                correct = label == known[it]
                sh = shadows[it]
                sh.given += 1
                if not ws.eligible:
                    pass
                elif not sh.done:
                    sh.answers.append((w, label, seq))
                    # leave-one-out: earlier answerers' rows without this item's check; this
                    # worker's check is not in its rows yet
                    confs = [conf_of(x) if x == w else shadow_conf(x, it, lab) for x, lab, _ in sh.answers]
                    dec, _ = decide(sh.answers, confs)
                    sh.decision = dec
                    if dec.status != "more":
                        sh.done = True
                        sh.used = len(sh.answers)
                else:
                    sh.answers.append((w, label, seq))
                ws.conf.observe(known[it], label)
                ws.post = posterior_update(ws.post, correct)
                ws.withheld = evidence_withheld(ws.post, bar=bar)
                ws.rate = known_check_rate(ws.post, bar=bar)
                ws.eligible = shadow_eligible(ws.post, bar=bar)
                if routing:
                    ws.proven = proven(ws.post, bar=bar)
                ws.walk = _gate(design, ws.walk, ws.post, correct)
                if ws.walk.standing == "warned":
                    warned_ever.add(w)
                if ws.walk.standing == "revoked":
                    revoked += 1
                    ws.active = False
            else:
                st = items[it]
                st.answers.append((w, label, seq))
                dec, post = decide(st.answers, [conf_of(x) for x, _, _ in st.answers])
                st.decision = dec
                if routing:
                    st.post = post
                if dec.status != "more":
                    st.done = True
                    learn_from_decision(st, post)
            if refresh_due(len(log_answers), model["at_last"]):
                refresh()
        active = [w for w in active if workers[w].active]
        if progress is not None and (rounds == 1 or rounds % 25 == 0 or not active):
            progress(
                f"round {rounds}: {len(active)} workers active, {answers_used}/{total_possible} answers used, "
                f"{sum(1 for s in items.values() if s.done)}/{len(items)} items complete"
            )

    # --- run over: final re-estimate, labels and probabilities ---------------------------------
    fit = refit(labels, live_rows(), known, shadow_used(), {}, prior_arr, iters=50, cross_iters=30)
    tau, eps = fit.tau, fit.eps
    res = fit.result
    pos = {it: j for j, it in enumerate(res.items)}

    shadow: list[tuple[str, float, bool, tuple[str, ...]]] = []  # (status, cross-fitted P, cross-fitted label right, answerers)
    shadow_answers = 0
    for it, (lab, p) in cross_fitted_outcomes(labels, fit.shadow, known, tau, eps).items():
        sh = shadows[it]
        status, used = shadow_outcome(it, sh)
        shadow_answers += len(used)
        shadow.append((status, p, lab == known[it], tuple(w for w, _, _ in used)))

    delivered: list[dict] = []
    status_counts: dict[str, int] = {}
    scores: list[tuple[str, float]] = []  # (status, calibrated P) per delivered item
    for it in item_order:
        st = items.get(it)
        if st is None or not st.answers:
            continue
        status = st.decision.status if (st.decision is not None and st.done) else "exhausted"
        if it in pos:
            lab, p = delivered_label(labels, res.log_prior, res.evidence[pos[it]], tau, eps)
        else:  # every answer on it came from revoked workers: the online decision stands
            lab, p = st.decision.label, st.decision.p_correct
        status_counts[status] = status_counts.get(status, 0) + 1
        scores.append((status, p))
        delivered.append({"item": it, "label": lab, "p_correct": round(p, 4), "answers_used": len(st.answers)})
    deff = SHADOW_DESIGN_EFFECT
    claim = items_claim(shadow, scores, confidence=confidence, target=target, design_effect=deff)  # production's call
    names, cell_counts = difficulty_strata([(s_, x) for s_, x, *_ in shadow], scores, design_effect=deff)
    by_cell = {name: {"shadow_n": 0, "shadow_correct": 0, "delivered": c} for name, c in cell_counts.items()}
    for name, (_, _, ok, *_) in zip(names, shadow):
        c = by_cell.setdefault(name, {"shadow_n": 0, "shadow_correct": 0, "delivered": 0})
        c["shadow_n"] += 1
        c["shadow_correct"] += int(ok)
    regular_answers = sum(r["answers_used"] for r in delivered)
    n_del = len(delivered)
    summary = {
        "answers_used": answers_used,
        "answers_available": total_possible,
        "known_checks": known_checks,
        "regular_answers": regular_answers,
        "workers": len(worker_order),
        "workers_revoked": revoked,
        "workers_warned_ever": len(warned_ever),
        "items_delivered": n_del,
        "items_accepted": status_counts.get("accepted", 0),
        "items_exhausted": status_counts.get("exhausted", 0),
        "answers_per_delivered_item": round(answers_used / n_del, 4) if n_del else None,
        "regular_answers_per_delivered_item": round(regular_answers / n_del, 4) if n_del else None,
        "claimed_accuracy": None if claim.accuracy is None else round(claim.accuracy, 4),
        "claimed_lower_bound": round(claim.lower, 4),
        "claimed_upper_bound": round(claim.upper, 4),
        "claim_n": claim.n,
        "claim_correct": claim.correct,
        "claim_method": f"shadow deliveries on known items (labels cross-fitted), one-sided {claim.method}",
        "shadow_answers_per_item": round(shadow_answers / len(shadow), 4) if shadow else None,
        "shadow_by_status": {
            st: {"n": sum(1 for s in shadow if s[0] == st), "correct": sum(1 for s in shadow if s[0] == st and s[2])}
            for st in sorted({s[0] for s in shadow})
        },
        "claim_cells": dict(sorted(by_cell.items())),
        "certified": claim.certified,
        "mean_p_correct": round(sum(r["p_correct"] for r in delivered) / n_del, 4) if n_del else None,
        "target": target,
        "confidence": confidence,
        "seed": seed,
        "cap": cap,
        "annotator_bar": round(bar, 4),
        "labels": len(labels),
        "rounds": rounds,
        "tau": tau,
        "eps": eps,
        "design_effect": round(claim.design_effect or deff, 3),
        "model_refreshes": model["refreshes"],
        "items_reopened": model["reopened"],
        "shadows_reopened": model["shadows_reopened"],
    }
    return delivered, summary

