"""Sequential gating: active -> warned -> revoked, from the accuracy posterior.

Rule (posterior probability p = P(accuracy < bar)):

* revoke when p >= ``REVOKE_P`` (0.95) and at least ``MIN_CHECKS_TO_REVOKE`` (5) real checks:
  at the moment of revocation the posterior chance that the annotator actually meets the bar
  is at most 5 %. Revoked is final (appeals are handled by people, not by this function).
* warn when p >= ``WARN_P`` (0.75) (at least ``MIN_CHECKS_TO_WARN`` checks);
* a warned annotator returns to active when p < ``RECOVER_P`` (0.5) — hysteresis so standing
  does not flap on every check.
"""
from __future__ import annotations

from dataclasses import dataclass

from .annotator import AnnotatorPosterior

WARN_P = 0.75
REVOKE_P = 0.95
RECOVER_P = 0.50
MIN_CHECKS_TO_WARN = 3
MIN_CHECKS_TO_REVOKE = 5
STANDINGS = ("active", "warned", "revoked")


@dataclass(frozen=True)
class GateDecision:
    standing: str
    reason: str
    changed: bool


def _facts(post: AnnotatorPosterior, bar: float) -> str:
    lo, hi = post.interval(0.9)
    return (
        f"{post.correct} of {post.checks} hidden check answers correct; "
        f"estimated accuracy {post.mean:.0%} (90% interval {lo:.0%}-{hi:.0%}); "
        f"project bar {bar:.0%}"
    )


def gate(post: AnnotatorPosterior, *, bar: float, standing: str) -> GateDecision:
    """Next standing for an annotator after their posterior changed. Pure; never un-revokes."""
    if standing not in STANDINGS:
        raise ValueError(f"unknown standing {standing!r}")
    facts = _facts(post, bar)
    if standing == "revoked":
        return GateDecision("revoked", f"Access revoked earlier; {facts}.", False)
    p = post.prob_below(bar)
    if p >= REVOKE_P and post.checks >= MIN_CHECKS_TO_REVOKE:
        return GateDecision(
            "revoked",
            f"Access revoked: {facts}; the chance your accuracy is below the bar is {p:.0%}.",
            True,
        )
    if p >= WARN_P and post.checks >= MIN_CHECKS_TO_WARN:
        return GateDecision(
            "warned",
            f"Warning: {facts}; the chance your accuracy is below the bar is {p:.0%}. "
            "Review the instructions; access is removed if it stays credibly below.",
            standing != "warned",
        )
    if standing == "warned" and p >= RECOVER_P:
        return GateDecision(
            "warned", f"Still on warning: {facts}; chance below the bar {p:.0%}.", False
        )
    return GateDecision(
        "active",
        f"In good standing: {facts}." if standing == "active" else f"Warning lifted: {facts}.",
        standing != "active",
    )


def evidence_withheld(post: AnnotatorPosterior, *, bar: float) -> bool:
    """Whether an annotator's answers are withheld from item posteriors (weight 0, as a revoked
    annotator's) while their accuracy is credibly below the bar: P(accuracy < bar) >= ``REVOKE_P``
    after at least ``MIN_CHECKS_TO_REVOKE`` checks.

    This runs alongside the SPRT gate (``engine.sprt``), which decides standing with stated error
    rates and therefore needs more checks (a pause, then a revocation) before it removes anyone:
    meanwhile a spammer's answers would count as evidence on items. Withholding is not a sanction
    and is reversible: as soon as the posterior recovers, the answers count again. The assignment
    policy already gives such annotators checks only (``engine.policy.known_check_rate``).
    """
    return post.checks >= MIN_CHECKS_TO_REVOKE and post.prob_below(bar) >= REVOKE_P
