"""Crowd replay: real answers through Cadre's own quality engine, in memory, no Django.

Follows /benchmarks/replay.md: workers arrive in rounds (each round visits every active worker
once, order shuffled with the seed); at each visit the assignment policy gives one task — a
hidden check on a known item the worker has an answer for, or an incomplete item it has an
answer for and has not been given — or nothing, and the worker leaves. Answers are scored with
the same engine functions the Celery task calls: posterior update + gating on checks,
item posterior + acceptance on regular items. Revoked workers leave. Items not accepted when
the run ends (no active worker can answer them) are delivered with their best label.

Claims: each known item also gets a *shadow delivery* — the acceptance procedure run online on
its check answers in arrival order, with every annotator's accuracy taken leaving this item's own
check out. Shadow outcomes (delivered label == known label) give the delivery claim
(Clopper-Pearson) and fit the calibration map for per-item ``p_correct``.
"""
from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any, Callable, Iterable, Mapping, Sequence

from quality.engine import (
    AnnotatorPosterior,
    Candidate,
    ItemDecision,
    choose_item,
    decide_item,
    default_bar,
    ShadowOutcome,
    claim_from_shadow,
    fit_calibration,
    gate,
    known_check_rate,
    posterior_update,
    prior_from_qualifier,
)
from quality.engine.annotator import chance_accuracy
from quality.engine.estimate import SHADOW_DESIGN_EFFECT

# Replay cap on answers per item. Cadre projects default to max_answers=5, but the cap only binds on
# items still uncertain after 5 answers (easy items stop at 2-3): on the three crowd sets a cap of
# 10 bought ~2 points of accuracy for ~1-3 % more answers, so the replay defaults to 10.
DEFAULT_CAP = 10


def _rows(rows: Iterable[Any], keys: Sequence[str]) -> Iterable[tuple[str, ...]]:
    for r in rows:
        if isinstance(r, Mapping):
            yield tuple(str(r[k]) for k in keys)
        else:
            yield tuple(str(v) for v in r)


class _Item:
    __slots__ = ("answers", "decision", "done")

    def __init__(self) -> None:
        self.answers: list[tuple[str, str]] = []  # (worker, label) in arrival order
        self.decision: ItemDecision | None = None
        self.done = False


class _Worker:
    __slots__ = ("post", "standing", "items", "known", "active")

    def __init__(self, post: AnnotatorPosterior) -> None:
        self.post = post
        self.standing = "active"
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
) -> tuple[list[dict], dict]:
    """Run the simulation. Rows are mappings (item/worker/label, item/label) or tuples.

    ``trace``, if given, receives one (kind, item, worker, label) tuple per answer consumed.
    Returns (delivered rows: item,label,p_correct,answers_used; summary dict).
    """
    rng = random.Random(seed)
    answer_of: dict[tuple[str, str], str] = {}
    worker_order: list[str] = []
    item_order: list[str] = []
    workers_items: dict[str, list[str]] = {}
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
        if item not in seen_items:
            seen_items.add(item)
            item_order.append(item)
    known: dict[str, str] = {}
    for item, label in _rows(known_rows, ("item", "label")):
        known.setdefault(item, label)
    for lab in known.values():
        labels_seen.setdefault(lab, None)
    labels = list(labels_seen)
    n_labels = max(2, len(labels))
    bar = default_bar(n_labels)
    chance = chance_accuracy(n_labels)
    prior = prior_from_qualifier(None, None, n_labels)

    workers: dict[str, _Worker] = {}
    for w in worker_order:
        ws = _Worker(prior)
        for it in workers_items[w]:
            (ws.known if it in known else ws.items).append(it)
        workers[w] = ws
    items: dict[str, _Item] = {it: _Item() for it in item_order if it not in known}
    shadows: dict[str, _Item] = {it: _Item() for it in item_order if it in known}
    check_outcome: dict[tuple[str, str], bool] = {}  # (known item, worker) -> correct

    def accuracy_now(w: str) -> float:
        ws = workers[w]
        return chance if ws.standing == "revoked" else ws.post.mean

    def accuracy_leave_out(w: str, item: str) -> float:
        ws = workers[w]
        if ws.standing == "revoked":
            return chance
        post = ws.post
        if (item, w) in check_outcome and post.checks > 0:
            post = post.without_check(check_outcome[(item, w)])
        return post.mean

    def score_item(st: _Item, acc: Callable[[str], float]) -> ItemDecision:
        return decide_item(labels, [(lab, acc(w)) for w, lab in st.answers], target=target, cap=cap)

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
            want_check = rng.random() < known_check_rate(ws.post, bar=bar)
            task: tuple[str, str] | None = None
            for kind in (("known", "item") if want_check else ("item", "known")):
                if kind == "known" and ws.known:
                    c = choose_item([Candidate(it, 0) for it in ws.known], rng)
                    ws.known.remove(c.item)
                    task = ("known", c.item)
                    break
                if kind == "item":
                    ws.items = [it for it in ws.items if not items[it].done]
                    if ws.items:
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
            if trace is not None:
                trace.append((kind, it, w, label))
            # --- scoring ------------------------------------------------------------------
            if kind == "known":
                known_checks += 1
                correct = label == known[it]
                sh = shadows[it]
                if not sh.done:
                    sh.answers.append((w, label))
                    # leave-one-out: this worker's posterior before this check is ws.post
                    dec = score_item(sh, lambda x: ws.post.mean if x == w else accuracy_leave_out(x, it))
                    sh.decision = dec
                    if dec.status != "more":
                        sh.done = True
                check_outcome[(it, w)] = correct
                ws.post = posterior_update(ws.post, correct)
                g = gate(ws.post, bar=bar, standing=ws.standing)
                ws.standing = g.standing
                if g.standing == "warned":
                    warned_ever.add(w)
                if g.standing == "revoked":
                    revoked += 1
                    ws.active = False
            else:
                st = items[it]
                st.answers.append((w, label))
                dec = score_item(st, accuracy_now)
                st.decision = dec
                if dec.status != "more":
                    st.done = True
        active = [w for w in active if workers[w].active]
        if progress is not None and (rounds == 1 or rounds % 25 == 0 or not active):
            progress(
                f"round {rounds}: {len(active)} workers active, {answers_used}/{total_possible} answers used, "
                f"{sum(1 for s in items.values() if s.done)}/{len(items)} items complete"
            )

    # --- run over: finalize items nobody can answer any more --------------------------------
    def finalize(st: _Item, acc: Callable[[str], float]) -> None:
        if st.answers and not st.done:
            d = score_item(st, acc)
            st.decision = ItemDecision("exhausted" if d.status == "more" else d.status, d.label, d.p_correct)
            st.done = True

    for st in items.values():
        finalize(st, accuracy_now)
    # shadow outcomes -> claim (by decision status) + calibration, the same call the delivery makes
    shadow: list[ShadowOutcome] = []
    for it, sh in shadows.items():
        finalize(sh, lambda x, it=it: accuracy_leave_out(x, it))
        if sh.decision is not None:
            shadow.append(ShadowOutcome(sh.decision.status, sh.decision.p_correct, sh.decision.label == known[it]))

    delivered: list[dict] = []
    status_counts: dict[str, int] = {}
    decisions: list[tuple[str, ItemDecision, int]] = []
    for it in item_order:
        st = items.get(it)
        if st is None or not st.answers:
            continue
        status_counts[st.decision.status] = status_counts.get(st.decision.status, 0) + 1
        decisions.append((it, st.decision, len(st.answers)))
    sc = claim_from_shadow(shadow, status_counts, confidence=confidence, target=target)
    claim = sc.claim
    for it, d, n in decisions:
        p = sc.p_correct(d.status, d.p_correct)
        delivered.append({"item": it, "label": d.label, "p_correct": round(p, 4), "answers_used": n})
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
        "claim_method": f"shadow deliveries on known items, one-sided {claim.method} by decision status, design effect {SHADOW_DESIGN_EFFECT}",
        "shadow_by_status": {
            st: {"n": sum(1 for s in shadow if s.status == st), "correct": sum(1 for s in shadow if s.status == st and s.correct)}
            for st in sorted({s.status for s in shadow})
        },
        "certified": claim.certified,
        "mean_p_correct": round(sum(r["p_correct"] for r in delivered) / n_del, 4) if n_del else None,
        "target": target,
        "confidence": confidence,
        "seed": seed,
        "cap": cap,
        "annotator_bar": round(bar, 4),
        "labels": len(labels),
        "rounds": rounds,
        "calibration_blocks": {k: [[round(a, 4), round(b, 4)] for a, b in c.blocks] for k, c in sc.by_status.items()},
    }
    return delivered, summary
