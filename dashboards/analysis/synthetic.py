"""Synthetic headlines with planted label errors (pure Python): the demo data, the unit tests
and ``bench/suspects.py`` use the same generator."""
from __future__ import annotations

import random

from .stats import Obs

TOPIC_WORDS = {
    "sport": "goal match team score league coach player stadium",
    "food": "recipe bake oven flavour dinner spice sauce taste",
    "tech": "software chip laptop code server cloud phone app",
}
FILLER = "the a today new big people said very".split()


def synthetic_headlines(n: int, *, flip: float, rng: random.Random, topic_words: int = 6) -> tuple[list[dict], list[str], list[str]]:
    """``n`` headlines (``topic_words`` topic words + 12 − that filler words, shuffled), their true topics and the
    labels delivered (``flip`` of them swapped to another topic at random)."""
    datas, true, given = [], [], []
    topics = sorted(TOPIC_WORDS)
    for _ in range(n):
        lab = rng.choice(topics)
        words = rng.choices(TOPIC_WORDS[lab].split(), k=topic_words) + rng.choices(FILLER, k=12 - topic_words)
        rng.shuffle(words)
        datas.append({"text": " ".join(words)})
        true.append(lab)
        given.append(rng.choice([c for c in topics if c != lab]) if rng.random() < flip else lab)
    return datas, true, given


def synthetic_ratings(rng: random.Random, *, items: int, per_group: int, shift: float, annotators: int = 12,
                      offset_sd: float = 0.0):
    """Each item rated 1..5 by ``per_group`` women and ``per_group`` men drawn from pools of
    ``annotators``; women's latent rating is ``shift`` higher (0 = no effect); each annotator
    has a personal offset with SD ``offset_sd`` (how generously they use the scale)."""
    obs = []
    women = list(range(1, annotators + 1))
    men = list(range(100, 100 + annotators))
    offset = {a: rng.gauss(0, offset_sd) if offset_sd else 0.0 for a in women + men}
    for item in range(items):
        cute = rng.gauss(3, 0.8)
        for group, pool, extra in (("woman", women, shift), ("man", men, 0.0)):
            for a in rng.sample(pool, per_group):
                obs.append(Obs(item, a, group, float(min(5, max(1, round(cute + extra + offset[a] + rng.gauss(0, 0.7)))))))
    return obs
