"""The replay's claim stays honest, and the per-class model pays off, on synthetic crowds
generated here (the shared research data must not ship): per-class confusions (some workers
systematically swap two labels), spammers, and hard items on which good workers err
*together* towards the same wrong label."""
from __future__ import annotations

import random

import pytest

from quality.replay import run_replay

LABELS = ("a", "b", "c", "d")


def confusing_crowd(seed: int, n_items: int = 500, n_workers: int = 40, per_item: int = 8, hard_share: float = 0.2,
                    hard_out: set | None = None):
    rng = random.Random(seed)
    kinds = {}
    for j in range(n_workers):
        r = rng.random()
        kinds[f"w{j}"] = ("spam", 0.0) if r < 0.1 else ("swap", rng.uniform(0.8, 0.95)) if r < 0.35 else ("good", rng.uniform(0.7, 0.95))
    gold, answers = {}, []
    for i in range(n_items):
        item, truth = f"i{i}", rng.choice(LABELS)
        gold[item] = truth
        hard = rng.random() < hard_share
        if hard and hard_out is not None:
            hard_out.add(item)
        trap = rng.choice([x for x in LABELS if x != truth])
        for w in rng.sample(sorted(kinds), per_item):
            kind, acc = kinds[w]
            if kind == "spam":
                lab = rng.choice(LABELS)
            elif hard:
                lab = truth if rng.random() < 0.4 else trap
            else:
                shown = {"a": "b", "b": "a"}.get(truth, truth) if kind == "swap" else truth
                lab = shown if rng.random() < acc else rng.choice([x for x in LABELS if x != shown])
            answers.append((item, w, lab))
    return answers, gold


def majority(answers):
    votes: dict[str, dict[str, int]] = {}
    for it, _, lab in answers:
        votes.setdefault(it, {}).setdefault(lab, 0)
        votes[it][lab] += 1
    return {it: min(v, key=lambda x: (-v[x], x)) for it, v in votes.items()}


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in range(1, 9):
        answers, gold = confusing_crowd(seed)
        known = random.Random(seed).sample(sorted(gold), 60)
        delivered, s = run_replay(answers, [(i, gold[i]) for i in known], seed=seed)
        held = [r for r in delivered if r["item"] not in set(known)]
        measured = sum(r["label"] == gold[r["item"]] for r in held) / len(held)
        mv = majority(answers)
        mv_acc = sum(mv[r["item"]] == gold[r["item"]] for r in held) / len(held)
        out.append((measured, mv_acc, s, len(answers)))
    return out


def test_lower_bound_never_above_measured_accuracy(runs):
    for measured, _, s, _ in runs:
        assert s["claimed_lower_bound"] <= measured, (s["seed"], s["claimed_lower_bound"], measured)
        assert not s["certified"]  # ~80-90 % right: never certified at 95 %


def test_bound_is_informative(runs):
    gaps = [measured - s["claimed_lower_bound"] for measured, _, s, _ in runs]
    # a bound of 0 would be honest and useless. 0.192 with the status-stratified claim, 0.204
    # post-stratified by difficulty (the price of not trusting the known items' mix)
    assert sum(gaps) / len(gaps) < 0.22


def test_beats_majority_vote_over_all_answers_with_fewer_answers(runs):
    wins = sum(measured >= mv for measured, mv, _, _ in runs)
    assert wins >= 6, [(round(m, 3), round(v, 3)) for m, v, _, _ in runs]
    for _, _, s, n in runs:
        assert s["answers_used"] <= 0.75 * n


def test_reported_probabilities_are_honest_on_average(runs):
    # calibration is learnt from 60 known items, so one run's mean p carries that sample's noise
    # (~0.05); over runs it must be centred on the truth
    diffs = [s["mean_p_correct"] - measured for measured, _, s, _ in runs]
    assert all(abs(d) < 0.12 for d in diffs), diffs
    assert abs(sum(diffs) / len(diffs)) < 0.04, diffs


@pytest.fixture(scope="module")
def easy_known_runs():
    """Known items drawn from the easy end: a hard item is a third as likely to be a known item
    as an easy one, so the shadow sample is easier than the delivery."""
    out = []
    for seed in range(1, 9):
        hard: set = set()
        answers, gold = confusing_crowd(seed, hard_out=hard)
        rng = random.Random(seed)
        pool = [i for i in sorted(gold) for _ in range(1 if i in hard else 3)]
        known: set = set()
        while len(known) < 60:
            known.add(rng.choice(pool))
        delivered, s = run_replay(answers, [(i, gold[i]) for i in sorted(known)], seed=seed)
        held = [r for r in delivered if r["item"] not in known]
        measured = sum(r["label"] == gold[r["item"]] for r in held) / len(held)
        shadow_acc = sum(v["correct"] for v in s["shadow_by_status"].values()) / sum(
            v["n"] for v in s["shadow_by_status"].values())
        out.append((measured, shadow_acc, s))
    return out


def test_known_items_easier_than_the_delivery_do_not_over_claim(easy_known_runs):
    # the shadow sample itself is optimistic: its raw accuracy sits above the delivery's ...
    assert sum(sh - m for m, sh, _ in easy_known_runs) / len(easy_known_runs) > 0.03
    # ... and the claim, post-stratified on the delivery's own mix of difficulty, still does not
    for measured, _, s in easy_known_runs:
        assert s["claimed_lower_bound"] <= measured, (s["seed"], s["claimed_lower_bound"], measured)
