"""Demographic analysis on PostgreSQL with the seeded puppy-rating data."""
from __future__ import annotations

import pytest

from dashboards.analysis import demo, demographics

pytestmark = pytest.mark.django_db


def test_women_rated_the_same_puppies_cuter_and_small_groups_are_suppressed():
    d = demo.seed(photos=30, headlines=30)
    r = demographics.label_differences(project=d.puppies)
    assert r.kind == "ordinal" and r.annotators == 27 and r.answers == 30 * 7
    gender = next(a for a in r.attributes if a.key == "gender")
    assert [g["group"] for g in gender.groups] == ["man", "woman"]  # 3 non-binary people: not shown
    assert gender.left_out == "fewer than 5"
    assert "permuting annotators" in gender.test.method and gender.test.detail["p_wilcoxon"] < 0.001
    assert gender.test.p_holm < 0.01 and gender.test.effect < -0.3  # man − woman
    assert gender.test.detail["items_compared"] == 30
    women = next(g for g in gender.groups if g["group"] == "woman")
    assert women["annotators"] == 12 and women["answers"] == 90 and women["mean"] > gender.groups[0]["mean"]
    country = next(a for a in r.attributes if a.key == "country")  # assigned independently of ratings
    assert country.test is not None and country.test.p_holm > 0.05


def test_no_effect_when_there_is_none():
    d = demo.seed(photos=30, headlines=30, shift=0.0, seed=4)
    gender = next(a for a in demographics.label_differences(project=d.puppies).attributes if a.key == "gender")
    assert gender.test.p_value > 0.05


def test_categorical_project_uses_chi_square_and_audience_mix_counts():
    d = demo.seed(photos=20, headlines=60)
    r = demographics.label_differences(project=d.topics)
    assert r.kind == "categorical"
    gender = next(a for a in r.attributes if a.key == "gender")
    assert "chi-square" in gender.test.method or "Fisher" in gender.test.method
    mix = demographics.audience_mix(project=d.puppies)
    assert mix["answers"] == 20 * 7 and mix["annotators"] == 27
    quota = mix["quotas"][0]
    assert quota["attribute"] == "gender" and quota["answers"] == 20 * 3
    assert quota["share"] == round(60 / 140, 4) and quota["met"] is False  # asked ≥ 50 %, got 43 %
    age_rule = mix["rules"][0]
    # the three demo annotators aged 61+ are outside the requested 18-60: shown, with their answers
    assert age_rule["attribute"] == "age" and (age_rule["passing"], age_rule["annotators"]) == (24, 27)
    assert age_rule["answers_passing"] == 20 * 6
    gender_rows = {g["group"]: g for b in mix["breakdown"] if b["attribute"] == "gender" for g in b["groups"]}
    assert set(gender_rows) == {"woman", "man"} and gender_rows["man"]["answers"] == 60
