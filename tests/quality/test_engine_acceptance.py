"""Item posterior and acceptance. Pure."""
import pytest

from quality.engine import accept, decide_item, item_posterior


def test_posterior_sums_to_one_and_prefers_majority():
    post = item_posterior(["a", "b"], [("a", 0.8), ("a", 0.8), ("b", 0.8)])
    assert sum(post.values()) == pytest.approx(1.0)
    assert post["a"] == pytest.approx(0.8)  # two 0.8 votes against one cancel to one vote


def test_worse_than_chance_answers_carry_no_information():
    post = item_posterior(["a", "b"], [("a", 0.3)])
    assert post == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}


def test_unknown_label_in_answers_is_added_and_multiclass():
    post = item_posterior(["a", "b", "c"], [("d", 0.9)])
    assert set(post) == {"a", "b", "c", "d"}
    assert max(post, key=post.get) == "d"


def test_single_answer_never_accepted_by_default():
    d = decide_item(["a", "b"], [("a", 0.99)], target=0.95, cap=5)
    assert d.status == "more" and d.label == "a"


def test_accept_more_exhausted():
    d = decide_item(["a", "b"], [("a", 0.9), ("a", 0.9), ("a", 0.9)], target=0.95, cap=5)
    assert d.status == "accepted" and d.p_correct >= 0.95
    d = decide_item(["a", "b"], [("a", 0.9), ("b", 0.9)], target=0.95, cap=2)
    assert d.status == "exhausted"
    assert accept({"a": 0.96, "b": 0.04}, target=0.95, n_answers=1, cap=5).status == "accepted"  # no n_agree given
    assert accept({"a": 0.96, "b": 0.04}, target=0.95, n_answers=1, cap=5, n_agree=1).status == "more"


def test_ties_are_deterministic():
    d1 = decide_item(["b", "a"], [("a", 0.8), ("b", 0.8)], target=0.95, cap=5)
    d2 = decide_item(["a", "b"], [("b", 0.8), ("a", 0.8)], target=0.95, cap=5)
    assert d1.label == d2.label == "a"


# --- answer weights and re-opening under the re-estimated model (issue 4) ----------------------

from quality.engine import AnnotatorPosterior, decide_confusion, reopen_decision  # noqa: E402
from quality.engine.confusion import confusion_prior  # noqa: E402

LABELS = ["a", "b"]
LOG_PRIOR = [-0.6931471805599453, -0.6931471805599453]


def _conf(acc: float, strength: float = 20.0):
    return confusion_prior(LABELS, AnnotatorPosterior(alpha=acc * strength, beta=(1 - acc) * strength))


def test_weights_of_one_are_todays_rule_exactly():
    answers = [("a", _conf(0.9)), ("b", _conf(0.7)), ("a", _conf(0.8)), ("a", None)]
    base = decide_confusion(LABELS, LOG_PRIOR, answers, tau=1.0, target=0.95, cap=10)
    ones = decide_confusion(LABELS, LOG_PRIOR, answers, tau=1.0, target=0.95, cap=10, weights=[1.0] * 4)
    nones = decide_confusion(LABELS, LOG_PRIOR, answers, tau=1.0, target=0.95, cap=10, weights=[None] * 4)
    assert base == ones == nones


def test_a_weight_tempers_its_answer_and_its_agreement():
    c = _conf(0.95)
    full, post_full = decide_confusion(LABELS, LOG_PRIOR, [("a", c), ("a", c)], tau=1.0, target=0.95, cap=10)
    assert full.status == "accepted"
    half, post_half = decide_confusion(LABELS, LOG_PRIOR, [("a", c), ("a", c)], tau=1.0, target=0.95, cap=10,
                                       weights=[1.0, 0.5])
    # w x log-likelihood: the same as tau = 0.75 on the pair
    tempered, post_tau = decide_confusion(LABELS, LOG_PRIOR, [("a", c), ("a", c)], tau=0.75, target=0.95, cap=10)
    assert post_half["a"] == pytest.approx(post_tau["a"])
    assert post_half["a"] < post_full["a"]
    assert half.status == "more"  # 1.5 agreeing answers < the two acceptance asks for
    zero, post_zero = decide_confusion(LABELS, LOG_PRIOR, [("a", c), ("b", c)], tau=1.0, target=0.95, cap=10,
                                       weights=[1.0, 0.0])
    assert post_zero["a"] > 0.9  # a weight-0 answer says nothing
    with pytest.raises(ValueError):
        decide_confusion(LABELS, LOG_PRIOR, [("a", c)], tau=1.0, target=0.95, cap=10, weights=[1.0, 1.0])


def test_reopen_when_the_reestimated_rows_no_longer_support_the_acceptance():
    trusted = _conf(0.97, strength=40.0)
    accepted, _ = decide_confusion(LABELS, LOG_PRIOR, [("a", trusted), ("a", trusted)], tau=1.0, target=0.95, cap=5)
    assert accepted.status == "accepted"
    # the re-estimate finds both annotators far weaker than their prior said
    weak = _conf(0.7, strength=40.0)
    again = reopen_decision(LABELS, LOG_PRIOR, [("a", weak), ("a", weak)], target=0.95, cap=5)
    assert again is not None and again.status == "more" and again.label == "a"
    # still supported: the acceptance stands
    assert reopen_decision(LABELS, LOG_PRIOR, [("a", trusted), ("a", trusted)], target=0.95, cap=5) is None
    # at the cap no more answers can be asked for: not reopened (the label follows the re-estimate)
    assert reopen_decision(LABELS, LOG_PRIOR, [("a", weak), ("a", weak)], target=0.95, cap=2) is None
    # a doubted answer (weight) can be what makes the acceptance fall
    assert reopen_decision(LABELS, LOG_PRIOR, [("a", trusted), ("a", trusted)], target=0.95, cap=5,
                           weights=[1.0, 0.3]) is not None
