"""Per-class annotator model: a Dirichlet row per true class (Dawid-Skene confusion matrix).

``Confusion.counts[t][g]`` are the Dirichlet parameters of "given label g when the truth is t":
prior pseudo-counts plus (soft) observations. The predictive probability used for scoring is
the posterior mean ``counts[t][g] / sum_g counts[t][g]``. Evidence enters in two ways:

* a hidden known-answer check: one-hot truth, weight 1 (:meth:`Confusion.observe`);
* a decided item or the periodic re-estimate (:mod:`quality.engine.em`): the item's posterior
  over true labels as soft truth — the incremental form of Dawid-Skene's M-step.

Prior (:func:`confusion_prior`): each row has mean accuracy ``m`` on the diagonal and
``(1 - m) / (K - 1)`` elsewhere, worth ``strength`` pseudo-answers per row. ``m`` and the
strength come from the annotator's Beta accuracy prior (qualifier quiz, see
:func:`quality.engine.annotator.prior_from_qualifier`) and their checks on *other* projects
(:func:`prior_with_history`): another project's record is weaker evidence than this one's, so
each foreign check counts ``HISTORY_WEIGHT`` and all of them at most ``HISTORY_MAX_PSEUDO``.
A row's strength is spread over K rows: the prior is about overall accuracy, not per class.

Pure Python (K is small); serialisable to JSON for the ``AnnotatorQuality.confusion`` column.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .annotator import AnnotatorPosterior, chance_accuracy

HISTORY_WEIGHT = 0.25
HISTORY_MAX_PSEUDO = 8.0
# total prior pseudo-answers per annotator, spread over the K rows (at least 1 per row)
ROW_PRIOR_MIN = 1.0


class Confusion:
    """Dirichlet confusion rows for one annotator (mutable; copy before a what-if)."""

    __slots__ = ("_rows", "counts", "index", "labels")

    def __init__(self, labels: Sequence[str], counts: Sequence[Sequence[float]]):
        self.labels = tuple(labels)
        self.index = {lab: i for i, lab in enumerate(self.labels)}
        k = len(self.labels)
        if len(counts) != k or any(len(r) != k for r in counts):
            raise ValueError("counts must be K x K")
        self.counts = [[float(v) for v in r] for r in counts]
        if any(v <= 0 for r in self.counts for v in r):
            raise ValueError("Dirichlet parameters must be > 0")
        self._rows = [sum(r) for r in self.counts]

    def copy(self) -> Confusion:
        return Confusion(self.labels, self.counts)

    def observe(self, truth: str | Mapping[str, float], given: str, weight: float = 1.0) -> None:
        """Add one answer ``given`` on an item whose truth is a label or a distribution."""
        g = self.index.get(given)
        if g is None:
            return
        if isinstance(truth, str):
            truth = {truth: 1.0}
        for lab, p in truth.items():
            t = self.index.get(lab)
            if t is None or p <= 0:
                continue
            w = weight * p
            new = self.counts[t][g] + w
            if new <= 0:  # removing more than was added (leave-one-out on a prior-only row)
                continue
            self.counts[t][g] = new
            self._rows[t] += w

    def without(self, truth: str, given: str) -> Confusion:
        """Copy with one one-hot observation removed (leave-one-out for shadow deliveries)."""
        c = self.copy()
        c.observe(truth, given, weight=-1.0)
        return c

    def loglik(self, given: str) -> list[float]:
        """log P(given | truth = t) for every t (posterior-mean rows). Unknown label: zeros."""
        g = self.index.get(given)
        if g is None:
            return [0.0] * len(self.labels)
        return [math.log(self.counts[t][g] / self._rows[t]) for t in range(len(self.labels))]

    def accuracy(self, class_prior: Sequence[float] | None = None) -> float:
        """Expected accuracy, rows weighted by ``class_prior`` (uniform without one)."""
        k = len(self.labels)
        w = class_prior or [1.0 / k] * k
        return sum(w[t] * self.counts[t][t] / self._rows[t] for t in range(k))

    def evidence(self) -> float:
        """Total pseudo-answers (prior included)."""
        return sum(self._rows)

    def to_json(self) -> dict:
        return {"labels": list(self.labels), "counts": [[round(v, 6) for v in r] for r in self.counts]}

    @classmethod
    def from_json(cls, data: Mapping, labels: Sequence[str] | None = None) -> Confusion:
        c = cls(data["labels"], data["counts"])
        if labels is not None and tuple(labels) != c.labels:
            return c.relabel(labels)
        return c

    def relabel(self, labels: Sequence[str]) -> Confusion:
        """Same annotator on a (possibly grown) label set; new rows/columns get a weak prior."""
        k = len(labels)
        base = confusion_prior(labels, AnnotatorPosterior(alpha=1.0 + chance_accuracy(k), beta=1.0))
        for i, a in enumerate(labels):
            for j, b in enumerate(labels):
                if a in self.index and b in self.index:
                    base.counts[i][j] = self.counts[self.index[a]][self.index[b]]
        return Confusion(labels, base.counts)


def prior_with_history(post: AnnotatorPosterior, history_correct: int, history_checks: int) -> AnnotatorPosterior:
    """Add the annotator's checks on other projects to a project prior, down-weighted."""
    if history_checks <= 0:
        return post
    if not 0 <= history_correct <= history_checks:
        raise ValueError("history_correct must be within 0..history_checks")
    w = min(HISTORY_WEIGHT, HISTORY_MAX_PSEUDO / history_checks)
    return AnnotatorPosterior(
        alpha=post.alpha + w * history_correct,
        beta=post.beta + w * (history_checks - history_correct),
        checks=post.checks,
        correct=post.correct,
    )


def confusion_prior(labels: Sequence[str], post: AnnotatorPosterior) -> Confusion:
    """Dirichlet rows from a Beta accuracy belief (see module docstring)."""
    k = len(labels)
    if k < 2:
        raise ValueError("need at least two labels")
    m = post.mean
    strength = max(ROW_PRIOR_MIN * k, post.alpha + post.beta)
    per_row = strength / k * 2.0  # each row carries a share of the belief (x2: rows are learnt separately)
    off = max(1e-3, (1.0 - m) / (k - 1))
    counts = [[per_row * (m if t == g else off) for g in range(k)] for t in range(k)]
    return Confusion(labels, counts)


def item_log_posterior(
    log_prior: Sequence[float], logliks: Sequence[Sequence[float]], tau: float = 1.0
) -> list[float]:
    """Normalised log P(truth = t | answers) with tempered evidence: log prior + tau * sum loglik.

    ``tau`` < 1 counts the answers as fewer independent ones: errors on hard items are
    correlated, so n agreeing answers are worth less than n independent coins. It is fitted on
    known items by :func:`quality.engine.em.fit_tempering`.
    """
    s = list(log_prior)
    for ll in logliks:
        for t, v in enumerate(ll):
            s[t] += tau * v
    top = max(s)
    z = top + math.log(sum(math.exp(v - top) for v in s))
    return [v - z for v in s]
