"""Annotator accuracy as a Beta posterior over P(answer is correct).

Pure Python + scipy; no Django. The Celery scoring task stores ``alpha``, ``beta``, ``checks``
and ``correct`` per (annotator, project) and calls :func:`posterior_update` for every hidden
known-answer check.

Choices (documented for customers and ops):

* **Default prior** (no qualifier, e.g. the crowd replay): mean halfway between guessing
  (1/n_labels) and perfect, worth ``DEFAULT_PRIOR_STRENGTH`` = 4 pseudo-answers. For two labels
  that is Beta(3, 1) (mean 0.75): weak enough that three or four real checks dominate it.
* **Qualifier prior**: each qualifier question counts ``QUALIFIER_WEIGHT`` = 0.5 of a real check,
  and the whole quiz at most ``QUALIFIER_MAX_PSEUDO`` = 10 pseudo-answers. A quiz is taken under
  test conditions, graded at the end, on hand-picked items: people are more careful than in
  production work and the items are not a random sample, so it is weaker evidence than hidden
  checks on real items.
"""
from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import beta as _beta

DEFAULT_PRIOR_STRENGTH = 4.0
QUALIFIER_WEIGHT = 0.5
QUALIFIER_MAX_PSEUDO = 10.0


def chance_accuracy(n_labels: int) -> float:
    """Accuracy of uniform guessing among ``n_labels`` labels."""
    return 1.0 / max(2, int(n_labels))


@dataclass(frozen=True)
class AnnotatorPosterior:
    """Beta(alpha, beta) belief about an annotator's accuracy on one project.

    ``checks``/``correct`` count real hidden known-answer checks only (not prior pseudo-counts).
    """

    alpha: float
    beta: float
    checks: int = 0
    correct: int = 0

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"alpha and beta must be > 0, got {self.alpha}, {self.beta}")
        if self.checks < 0 or not (0 <= self.correct <= self.checks):
            raise ValueError(f"need 0 <= correct <= checks, got {self.correct}/{self.checks}")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Equal-tailed credible interval at ``confidence``."""
        tail = (1.0 - confidence) / 2.0
        return (float(_beta.ppf(tail, self.alpha, self.beta)), float(_beta.ppf(1.0 - tail, self.alpha, self.beta)))

    def prob_below(self, bar: float) -> float:
        """Posterior probability that the true accuracy is below ``bar``."""
        return float(_beta.cdf(bar, self.alpha, self.beta))

    def without_check(self, correct: bool) -> "AnnotatorPosterior":
        """The posterior as if one of its checks (with this outcome) had not happened.

        Used for leave-one-out estimates (shadow deliveries on known items).
        """
        if self.checks < 1:
            raise ValueError("no check to remove")
        if correct and self.correct < 1:
            raise ValueError("no correct check to remove")
        if not correct and self.checks - self.correct < 1:
            raise ValueError("no wrong check to remove")
        return AnnotatorPosterior(
            alpha=self.alpha - (1.0 if correct else 0.0),
            beta=self.beta - (0.0 if correct else 1.0),
            checks=self.checks - 1,
            correct=self.correct - (1 if correct else 0),
        )


def default_prior(n_labels: int) -> AnnotatorPosterior:
    """Weak prior for someone we know nothing about (see module docstring)."""
    m0 = (1.0 + chance_accuracy(n_labels)) / 2.0
    return AnnotatorPosterior(alpha=m0 * DEFAULT_PRIOR_STRENGTH, beta=(1.0 - m0) * DEFAULT_PRIOR_STRENGTH)


def prior_from_qualifier(correct: int | None, total: int | None, n_labels: int) -> AnnotatorPosterior:
    """Prior for a project from the annotator's qualifier quiz (or the default prior without one)."""
    base = default_prior(n_labels)
    if correct is None or total is None or total <= 0:
        return base
    if correct < 0 or correct > total:
        raise ValueError(f"qualifier correct={correct} not within 0..{total}")
    w = min(QUALIFIER_WEIGHT, QUALIFIER_MAX_PSEUDO / total)
    return AnnotatorPosterior(alpha=base.alpha + w * correct, beta=base.beta + w * (total - correct))


def posterior_update(post: AnnotatorPosterior, correct: bool) -> AnnotatorPosterior:
    """Posterior after one hidden known-answer check."""
    return AnnotatorPosterior(
        alpha=post.alpha + (1.0 if correct else 0.0),
        beta=post.beta + (0.0 if correct else 1.0),
        checks=post.checks + 1,
        correct=post.correct + (1 if correct else 0),
    )


def default_bar(n_labels: int) -> float:
    """Annotator accuracy bar when the customer set none: halfway between guessing and perfect.

    0.75 for two labels, 0.667 for three, 0.625 for four. Gating revokes only when accuracy is
    *credibly* below it, so it is a floor against guessers and spammers, not a target.
    """
    c = chance_accuracy(n_labels)
    return c + 0.5 * (1.0 - c)
