"""Annotator posterior, priors, default bar. Pure: no database, no Django."""
import pytest

from quality.engine import AnnotatorPosterior, default_bar, default_prior, posterior_update, prior_from_qualifier


def test_default_prior_is_weak_and_above_chance():
    p = default_prior(2)
    assert p.mean == pytest.approx(0.75)
    assert p.alpha + p.beta == pytest.approx(4.0)
    assert p.checks == 0 and p.correct == 0
    assert default_prior(4).mean == pytest.approx(0.625)


def test_qualifier_counts_less_than_checks():
    q = prior_from_qualifier(10, 10, 2)
    checks = default_prior(2)
    for _ in range(10):
        checks = posterior_update(checks, True)
    assert default_prior(2).mean < q.mean < checks.mean
    assert q.checks == 0  # the quiz is not a real check
    assert prior_from_qualifier(None, None, 2) == default_prior(2)
    # a long quiz is capped at 10 pseudo-answers
    big = prior_from_qualifier(100, 100, 2)
    assert big.alpha + big.beta == pytest.approx(4.0 + 10.0)
    with pytest.raises(ValueError):
        prior_from_qualifier(5, 3, 2)


def test_update_interval_prob_below():
    p = AnnotatorPosterior(1, 1)
    p = posterior_update(p, True)
    p = posterior_update(p, False)
    p = posterior_update(p, True)
    assert (p.alpha, p.beta, p.checks, p.correct) == (3, 2, 3, 2)
    lo, hi = p.interval(0.9)
    assert 0 < lo < p.mean < hi < 1
    assert p.prob_below(0.0) == 0.0 and p.prob_below(1.0) == pytest.approx(1.0)
    assert AnnotatorPosterior(1, 1).prob_below(0.3) == pytest.approx(0.3)
    assert p.without_check(True) == AnnotatorPosterior(2, 2, 2, 1)


def test_posterior_is_frozen_and_validated():
    p = AnnotatorPosterior(2, 2)
    with pytest.raises(Exception):
        p.alpha = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        AnnotatorPosterior(0, 1)
    with pytest.raises(ValueError):
        AnnotatorPosterior(1, 1, checks=1, correct=2)


def test_default_bar_halfway_between_chance_and_perfect():
    assert default_bar(2) == pytest.approx(0.75)
    assert default_bar(4) == pytest.approx(0.625)
    assert default_bar(1) == pytest.approx(0.75)  # degenerate spec treated as binary
