"""Post-stratification of the shadow claim by item difficulty (decision status and calibrated
P(correct)): cells, and honesty when the known items are easier than the regular ones."""
from __future__ import annotations

import random

from quality.engine import difficulty_strata, post_stratified_claim, stratified_claim


def test_cells_pool_to_the_minimum_effective_size_and_never_cross_statuses():
    shadow = [("accepted", (i + 10) / 100) for i in range(60)] + [("exhausted", 0.5)] * 4
    names, counts = difficulty_strata(shadow, [("accepted", 0.05), ("accepted", 0.99), ("exhausted", 0.9)],
                                      design_effect=2.0, min_effective=10.0)
    accepted = [n for n, (st, _) in zip(names, shadow) if st == "accepted"]
    sizes = [accepted.count(c) for c in dict.fromkeys(accepted)]
    assert sizes == [20, 20, 20]  # 10 effective each at design effect 2
    assert {n for n, (st, _) in zip(names, shadow) if st == "exhausted"} == {"exhausted"}
    # the first and last cells are open-ended; a status without shadows is one empty cell
    assert counts == {accepted[0]: 1, accepted[-1]: 1, "exhausted": 1}
    lone = post_stratified_claim([("accepted", 0.8, True)] * 30, [("exhausted", 0.1)], confidence=0.95, target=0.5)
    assert lone.lower == 0.0 and lone.upper == 1.0


def test_a_short_last_cell_joins_the_one_before_and_ties_never_split():
    shadow = [("accepted", 0.1)] * 30 + [("accepted", 0.9)] * 5
    names, _ = difficulty_strata(shadow, [], design_effect=1.0, min_effective=10.0)
    assert len(set(names)) == 1  # the 30 tied scores are one cell; the 5 after it are too few alone
    names, _ = difficulty_strata(shadow + [("accepted", 0.95)] * 10, [], design_effect=1.0, min_effective=10.0)
    assert len(set(names)) == 2


def test_one_cell_is_the_status_claim():
    shadow = [("accepted", 0.9, i % 10 != 0) for i in range(20)]
    post = post_stratified_claim(shadow, [("accepted", 0.3)] * 40, confidence=0.95, target=0.8)
    status = stratified_claim({"accepted": [ok for _, _, ok in shadow]}, {"accepted": 40}, confidence=0.95, target=0.8)
    assert (post.lower, post.accuracy, post.n, post.correct) == (status.lower, status.accuracy, status.n, status.correct)


def _world(rng: random.Random, n_regular: int, n_known: int):
    """Items whose difficulty score is their probability of being delivered right; the known
    items are drawn from the easy end (score skewed towards 1), the regular ones uniformly."""
    regular = [rng.uniform(0.5, 1.0) for _ in range(n_regular)]
    known = [1.0 - 0.5 * rng.random() ** 3 for _ in range(n_known)]
    truth = sum(regular) / n_regular  # expected delivered accuracy
    shadow = [("accepted", s, rng.random() < s) for s in known]
    return shadow, [("accepted", s) for s in regular], truth


def test_easy_known_items_over_claim_by_status_but_not_post_stratified():
    rng = random.Random(7)
    over_status = over_post = 0
    gaps = []
    for _ in range(40):
        shadow, delivered, truth = _world(rng, 700, 150)
        post = post_stratified_claim(shadow, delivered, confidence=0.95, target=0.95)
        status = stratified_claim({"accepted": [ok for _, _, ok in shadow]}, {"accepted": len(delivered)},
                                  confidence=0.95, target=0.95)
        over_status += status.lower > truth
        over_post += post.lower > truth
        gaps.append(truth - post.lower)
    assert over_status >= 20  # the unweighted shadow sample measures the known items' easy mix
    assert over_post == 0
    assert sum(gaps) / len(gaps) < 0.25  # honest, and still far from the useless bound of 0


def test_weighted_claim_is_clopper_pearson_on_the_kish_sample():
    from quality.engine import clopper_pearson
    from quality.engine.estimate import weighted_claim

    shadow = {"easy": [True] * 40, "hard": [True] * 14 + [False] * 6}
    # proportional weights: Kish n = n, the bound is Clopper-Pearson on the pooled counts
    prop = weighted_claim(shadow, {"easy": 200, "hard": 100}, confidence=0.95, target=0.9, design_effect=1.0)
    assert abs(prop.lower - clopper_pearson(54, 60, 0.95)[0]) < 1e-9
    # the delivery is all hard-ish: 1/(0.1^2/40 + 0.9^2/20) effective outcomes at 0.1*1 + 0.9*0.7
    skew = weighted_claim(shadow, {"easy": 10, "hard": 90}, confidence=0.95, target=0.9, design_effect=2.0)
    n_eff = 1 / (0.01 / 40 + 0.81 / 20) / 2.0
    assert abs(skew.accuracy - 0.73) < 1e-9
    assert abs(skew.lower - clopper_pearson(0.73 * n_eff, n_eff, 0.95)[0]) < 1e-9
    assert skew.lower < prop.lower and not skew.certified
    # a delivered cell without shadow outcomes counts 0 in the lower bound, 1 in the upper
    gap = weighted_claim(shadow, {"easy": 50, "hard": 25, "none": 25}, confidence=0.95, target=0.5, design_effect=1.0)
    full = weighted_claim(shadow, {"easy": 50, "hard": 25}, confidence=0.95, target=0.5, design_effect=1.0)
    assert abs(gap.lower - 0.75 * full.lower) < 1e-9 and abs(gap.upper - (0.75 * full.upper + 0.25)) < 1e-9
