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
