"""Crowd replay on a small synthetic crowd generated here (the shared research data must not ship).

Pure in-memory tests of quality.replay.run_replay, plus one run of the management command.
"""
from __future__ import annotations

import csv
import json
import random

import pytest

from quality.replay import run_replay


def synthetic_crowd(seed: int = 7, n_items: int = 150, n_workers: int = 25, per_item: int = 7):
    """Binary items; most workers ~85-95 % accurate, a few guessers; ~20 % hard items on which
    good workers are only 60 % right (correlated errors)."""
    rng = random.Random(seed)
    acc = {f"w{j}": (rng.uniform(0.85, 0.95) if j >= 4 else 0.5) for j in range(n_workers)}
    gold, answers = {}, []
    for i in range(n_items):
        item = f"i{i}"
        truth = rng.choice(["pos", "neg"])
        gold[item] = truth
        hard = rng.random() < 0.2
        for w in rng.sample(sorted(acc), per_item):
            a = min(acc[w], 0.6) if hard and acc[w] > 0.5 else acc[w]
            lab = truth if rng.random() < a else ("neg" if truth == "pos" else "pos")
            answers.append({"item": item, "worker": w, "label": lab})
    answers.append(dict(answers[0], label="pos" if answers[0]["label"] == "neg" else "neg"))  # repeat pair
    known_items = rng.sample(sorted(gold), 30)
    known = [{"item": it, "label": gold[it]} for it in known_items]
    return answers, known, gold


@pytest.fixture(scope="module")
def crowd():
    return synthetic_crowd()


def test_replay_outputs_and_bookkeeping(crowd):
    answers, known, gold = crowd
    msgs: list[str] = []
    delivered, s = run_replay(answers, known, target=0.95, confidence=0.95, seed=3, progress=msgs.append)
    known_ids = {k["item"] for k in known}
    assert msgs, "progress messages expected"
    for key in ("answers_used", "known_checks", "workers", "workers_revoked", "items_delivered",
                "claimed_accuracy", "claimed_lower_bound", "certified"):
        assert key in s
    assert s["workers"] == 25
    assert s["items_delivered"] == len(delivered) == len(gold) - len(known_ids)
    assert all(r["item"] not in known_ids for r in delivered)
    # every answer consumed is either a hidden check or counted on a delivered item
    assert s["answers_used"] == s["known_checks"] + sum(r["answers_used"] for r in delivered)
    assert s["answers_used"] <= len(answers) - 1
    assert s["items_accepted"] + s["items_exhausted"] == s["items_delivered"]
    assert all(1 <= r["answers_used"] <= s["cap"] for r in delivered)
    assert all(0.0 <= r["p_correct"] <= 1.0 for r in delivered)
    assert 0.0 <= s["claimed_lower_bound"] <= s["claimed_accuracy"] <= s["claimed_upper_bound"] <= 1.0
    assert s["certified"] == (s["claimed_lower_bound"] >= 0.95)
    assert s["claim_n"] == sum(v["n"] for v in s["shadow_by_status"].values())
    # the guessers are found and removed
    assert s["workers_revoked"] >= 1
    measured = sum(r["label"] == gold[r["item"]] for r in delivered) / len(delivered)
    assert measured > 0.8
    assert s["answers_used"] < len(answers)  # adaptive: not every answer is bought


def test_replay_deterministic_per_seed(crowd):
    answers, known, _ = crowd
    a = run_replay(answers, known, seed=5)
    b = run_replay([dict(r) for r in answers], list(known), seed=5)
    assert a == b
    trace_a, trace_c = [], []
    run_replay(answers, known, seed=5, trace=trace_a)
    run_replay(answers, known, seed=6, trace=trace_c)
    assert trace_a != trace_c


def test_replay_without_known_items_claims_nothing(crowd):
    answers, _, _ = crowd
    delivered, s = run_replay(answers, [], seed=1)
    assert s["known_checks"] == 0 and s["claim_n"] == 0
    assert s["claimed_lower_bound"] == 0.0 and s["certified"] is False
    assert delivered


def test_replay_accepts_tuples(crowd):
    answers, known, _ = crowd
    rows = [(r["item"], r["worker"], r["label"]) for r in answers]
    krows = [(k["item"], k["label"]) for k in known]
    assert run_replay(rows, krows, seed=2) == run_replay(answers, known, seed=2)


def test_management_command_writes_files(crowd, tmp_path):
    pytest.importorskip("django")
    from django.core.management import call_command

    answers, known, _ = crowd
    a, k = tmp_path / "A.csv", tmp_path / "K.csv"
    with a.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["item", "worker", "label"])
        w.writeheader()
        w.writerows(answers)
    with k.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["item", "label"])
        w.writeheader()
        w.writerows(known)
    out = tmp_path / "out"
    call_command("replay_crowd", answers=str(a), known=str(k), out=str(out), seed=4)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seconds"] >= 0 and summary["seed"] == 4
    with (out / "delivered.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["item", "label", "p_correct", "answers_used"]
    assert len(rows) == summary["items_delivered"]
    # same seed, same files
    out2 = tmp_path / "out2"
    call_command("replay_crowd", answers=str(a), known=str(k), out=str(out2), seed=4)
    assert (out / "delivered.csv").read_text() == (out2 / "delivered.csv").read_text()
    s2 = json.loads((out2 / "summary.json").read_text())
    assert {k: v for k, v in s2.items() if k != "seconds"} == {k: v for k, v in summary.items() if k != "seconds"}


def correlated_crowd(seed: int, n_items: int = 600, n_workers: int = 60, per_item: int = 9):
    """Three labels; a quarter of the items are traps on which good workers pick the same wrong
    label 55 % of the time — the correlated errors that make one-coin posteriors over-claim."""
    labels = ("a", "b", "c")
    rng = random.Random(seed)
    acc = {f"w{j}": (rng.uniform(0.75, 0.95) if j >= 8 else 1 / 3) for j in range(n_workers)}
    gold, answers = {}, []
    for i in range(n_items):
        item, truth = f"i{i}", rng.choice(labels)
        gold[item] = truth
        hard = rng.random() < 0.25
        trap = rng.choice([lab for lab in labels if lab != truth])
        for w in rng.sample(sorted(acc), per_item):
            if hard and acc[w] > 0.5:
                lab = truth if rng.random() < 0.45 else trap
            else:
                lab = truth if rng.random() < acc[w] else rng.choice([x for x in labels if x != truth])
            answers.append((item, w, lab))
    return answers, gold


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_claim_does_not_over_claim_under_correlated_errors(seed):
    answers, gold = correlated_crowd(seed)
    known = random.Random(seed).sample(sorted(gold), 60)
    delivered, s = run_replay(answers, [(i, gold[i]) for i in known], seed=seed)
    measured = sum(r["label"] == gold[r["item"]] for r in delivered) / len(delivered)
    assert s["claimed_lower_bound"] <= measured
    assert not s["certified"]  # ~85 % right: must not be certified at 95 %
    assert abs(s["mean_p_correct"] - measured) < 0.1  # per-item probabilities honest on average
