"""Item label posterior and the accept / ask-for-more decision.

``item_posterior`` is the one-coin model: an annotator with accuracy ``a`` gives the true label
with probability ``a`` and each other label with ``(1 - a) / (K - 1)``; uniform prior over labels.
It assumes answers are independent given the true label, which real crowds violate (errors
correlate on hard items), so its probabilities are optimistic. Two defences:

* ``accept`` also requires ``min_agree`` (default 2) answers agreeing with the top label, so no
  item is accepted on a single answer however trusted the annotator;
* the probability shown to customers is not this model value but a calibrated one (see
  :mod:`quality.engine.calibration`), fitted on shadow deliveries of known items.

Accuracies are clipped to [chance, ``MAX_ACCURACY``]: a worse-than-guessing estimate carries no
information (we do not flip its answers) and no single answer is treated as certain.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .confusion import Confusion, item_log_posterior

MAX_ACCURACY = 0.99
MIN_AGREE = 2


@dataclass(frozen=True)
class ItemDecision:
    status: str  # 'accepted' | 'more' | 'exhausted'
    label: str
    p_correct: float


def item_posterior(labels: Sequence[str], answers: Sequence[tuple[str, float]]) -> dict[str, float]:
    """P(true label = l) for each label, from (label, annotator accuracy estimate) answers.

    Cost O(len(answers) + len(labels)).
    """
    labels = list(dict.fromkeys(labels))
    for lab, _ in answers:
        if lab not in labels:
            labels.append(lab)
    k = len(labels)
    if k == 0:
        return {}
    if k == 1:
        return {labels[0]: 1.0}
    chance = 1.0 / k
    score = {lab: 0.0 for lab in labels}
    for lab, acc in answers:
        a = min(MAX_ACCURACY, max(chance, float(acc)))
        # log-likelihood ratio of "this label is true" vs "another label is true"
        score[lab] += math.log(a) - math.log((1.0 - a) / (k - 1))
    top = max(score.values())
    expd = {lab: math.exp(s - top) for lab, s in score.items()}
    z = sum(expd.values())
    return {lab: v / z for lab, v in expd.items()}


def best_label(posterior: Mapping[str, float]) -> tuple[str, float]:
    """Top label and its probability; ties broken by label text so results are deterministic."""
    if not posterior:
        raise ValueError("empty posterior")
    lab = min(posterior, key=lambda x: (-posterior[x], x))
    return lab, posterior[lab]


def accept(
    posterior: Mapping[str, float],
    *,
    target: float,
    n_answers: int,
    cap: int,
    n_agree: int | None = None,
    min_agree: int = MIN_AGREE,
) -> ItemDecision:
    """Accept when P(top label) >= target and (if given) ``n_agree`` >= ``min_agree``;
    'exhausted' when ``n_answers`` reached ``cap`` without that; otherwise ask for 'more'."""
    label, p = best_label(posterior)
    agree_ok = n_agree is None or n_agree >= min_agree
    if p >= target and agree_ok:
        return ItemDecision("accepted", label, p)
    if n_answers >= cap:
        return ItemDecision("exhausted", label, p)
    return ItemDecision("more", label, p)


def decide_item(
    labels: Sequence[str],
    answers: Sequence[tuple[str, float]],
    *,
    target: float,
    cap: int,
    min_agree: int = MIN_AGREE,
) -> ItemDecision:
    """Posterior + decision for one item in one call (what the scoring task runs per answer)."""
    post = item_posterior(labels, answers)
    label, _ = best_label(post)
    n_agree = sum(1 for lab, _ in answers if lab == label)
    return accept(post, target=target, n_answers=len(answers), cap=cap, n_agree=n_agree, min_agree=min_agree)


def decide_confusion(
    labels: Sequence[str],
    log_prior: Sequence[float],
    answers: Sequence[tuple[str, Confusion | None]],
    *,
    tau: float,
    target: float,
    cap: int,
    min_agree: int = MIN_AGREE,
    weights: Sequence[float | None] | None = None,
) -> tuple[ItemDecision, dict[str, float]]:
    """The production decision for one item under the per-class model: posterior over true
    labels from (given label, annotator's :class:`~quality.engine.confusion.Confusion`) answers —
    ``None`` for an annotator whose answers carry no weight (revoked) — tempered by ``tau``;
    then :func:`accept` (P(top) >= target with >= ``min_agree`` agreeing answers, 'exhausted' at
    the cap). Cost O(answers x labels). Returns the decision and the posterior.

    ``weights`` (one per answer, ``None`` = 1): the answer-quality model's weight of each answer
    (``quality.services.answer_model.answer_weight``, in (0, 1]). An answer of weight ``w``
    enters as a tempered likelihood, ``w`` x its log-likelihood — it counts as ``w`` of an
    answer, the same device ``tau`` applies to the whole item — and as ``w`` of an agreeing
    answer toward ``min_agree`` (two answers the behaviour model doubts do not make the two
    agreeing answers acceptance asks for). Weights of 1, or none given, are today's rule
    exactly."""
    if weights is None:
        weights = [None] * len(answers)
    elif len(weights) != len(answers):
        raise ValueError("one weight per answer")
    ws = [1.0 if w is None else min(1.0, max(0.0, float(w))) for w in weights]
    logliks = []
    for (lab, conf), w in zip(answers, ws):
        if conf is None or w <= 0.0:
            continue
        ll = conf.loglik(lab)
        logliks.append(ll if w == 1.0 else [w * v for v in ll])
    lp = item_log_posterior(log_prior, logliks, tau)
    post = {lab: math.exp(v) for lab, v in zip(labels, lp)}
    label, _ = best_label(post)
    n_agree = sum(w for (lab, _), w in zip(answers, ws) if lab == label)
    dec = accept(post, target=target, n_answers=len(answers), cap=cap, n_agree=n_agree, min_agree=min_agree)
    return dec, post


def reopen_decision(
    labels: Sequence[str],
    log_prior: Sequence[float],
    answers: Sequence[tuple[str, Confusion | None]],
    *,
    target: float,
    cap: int,
    weights: Sequence[float | None] | None = None,
) -> ItemDecision | None:
    """Whether an item accepted earlier still is, under the model of now.

    Items are accepted under the annotator rows and class prior of the moment; a periodic
    re-estimate (``engine.em.refit``) revises them from all answers, and some acceptances no
    longer meet the target (typically an item accepted on two answers from annotators whose
    rows were still mostly prior). The same rule (:func:`decide_confusion`, ``tau = 1``) is
    re-run on the item's answers: if it now asks for 'more', that decision is returned and the
    item goes back to work (more answers, within the cap); otherwise ``None`` and the acceptance
    stands — an item whose re-run says 'exhausted' (at the cap) is not reopened, since no more
    answers could be asked for; its label is what the re-estimate says either way. The crowd
    replay runs this at each re-estimate on regular items and on the known items' shadow
    deliveries alike (the claim's sample must follow the procedure the delivery followed);
    production runs it in the re-estimate task (``quality.services.model``)."""
    dec, _ = decide_confusion(labels, log_prior, answers, tau=1.0, target=target, cap=cap, weights=weights)
    return dec if dec.status == "more" else None
