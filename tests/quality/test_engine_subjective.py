"""Subjective-task quality: self-consistency and peer agreement against chance. Pure."""
import random

import pytest

from quality.engine.subjective import peer_agreement, self_consistency


def test_consistent_rater_is_credibly_above_chance_and_a_random_one_is_not():
    rng = random.Random(1)
    truth = [rng.randint(1, 5) for _ in range(60)]
    steady = self_consistency([(t, t if rng.random() < 0.9 else rng.randint(1, 5)) for t in truth])
    assert steady.n == 60 and steady.credibly_above_chance and steady.kappa > 0.7
    assert steady.lower < steady.rate < steady.upper
    noisy = self_consistency([(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(60)])
    assert not noisy.credibly_above_chance and abs(noisy.kappa) < 0.3


def test_everyone_answering_the_same_is_not_credit():
    """All 4s agree perfectly, but chance agreement is 1 as well: no credit."""
    r = self_consistency([(4, 4)] * 30)
    assert r.rate == 1 and r.chance == 1 and r.kappa is None and not r.credibly_above_chance


def test_tolerance_for_ordinal_ratings():
    pairs = [(3, 4), (5, 4), (1, 2), (2, 2)] * 10
    assert self_consistency(pairs).rate == pytest.approx(0.25)
    assert self_consistency(pairs, tolerance=1).rate == 1


def test_peer_agreement_against_plurality():
    rng = random.Random(2)
    peers, good, bad = {}, {}, {}
    for i in range(80):
        t = rng.choice("abc")
        peers[i] = [t if rng.random() < 0.8 else rng.choice("abc") for _ in range(4)]
        good[i] = t if rng.random() < 0.85 else rng.choice("abc")
        bad[i] = rng.choice("abc")
    g, b = peer_agreement(good, peers), peer_agreement(bad, peers)
    assert g.credibly_above_chance and g.rate > 0.7
    assert not b.credibly_above_chance
    assert peer_agreement({1: "a"}, {}).n == 0  # no peers, no evidence
