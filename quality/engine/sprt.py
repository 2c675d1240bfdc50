"""Gating as a sequential probability ratio test (Wald) on hidden known-answer checks.

Two simple hypotheses about an annotator's accuracy on a project with bar ``b``:

* H0 "good": accuracy ``p0 = b + delta``;  H1 "bad": accuracy ``p1 = b - delta``.

Each check adds to the log-likelihood ratio ``llr = log P(outcomes | H1) / P(outcomes | H0)``:
``log(p1/p0)`` (< 0) for a correct answer, ``log((1-p1)/(1-p0))`` (> 0) for a wrong one.
Wald's boundary ``log(1/alpha)`` gives, for a test started at 0, P(ever crossing | H0) <= alpha.
Here each threshold is ``log(1/(0.7 alpha))``: 70 % of the alpha budget for the first passage,
30 % left for the restarts after the floor (below). The decisions are graded on one walk (one
test, three upper thresholds):

* **warn** at ALPHA_WARN = 0.20: informational, lifted when the
  walk comes back to 0 (hysteresis: standing does not flap on each check);
* **pause** at ALPHA_PAUSE = 0.05: standing ``paused``, the
  annotator goes back to the tutorial; completing it makes them active again. The walk is not
  reset: a pause erases no evidence, and the checks after the tutorial move it either way;
* **revoke** at ALPHA_REVOKE = 0.01, only for someone already
  paused once (pause comes first); the first crossing of it by someone never paused pauses them.

The walk is clipped at a floor, twice Wald's lower boundary ``log(beta/(1-ALPHA_PAUSE))``
(a CUSUM-style restart): a long good record cannot bank unlimited credit, so someone who turns
bad after months is still caught within a few dozen checks. With the floor at Wald's boundary
itself and thresholds at Wald's ``log((1-beta)/alpha)``, the repeated restarts over 300 checks
paused 8 % of good annotators (simulated, 10,000 each at bars 0.625-0.75): hence the split
alpha budget and the lower floor (2.4-3.3 % paused, 0.5-0.8 % revoked; bad ones all caught).

Error rates, as stated and tested by simulation (``simulate_error_rates``, tests in
``tests/quality/test_engine_sprt.py``) over ``design.horizon`` checks (>= 300; more when the
indifference zone is narrow and the test needs longer), a pause not
changing the annotator's accuracy (the worst case): an annotator at ``b + delta`` is paused with
probability <= 0.05 and revoked <= 0.01; one at ``b - delta`` escapes the pause with
probability <= BETA = 0.05 and escapes revocation <= 0.05.

``delta`` (the indifference zone) is ``min(0.10, (1-b)/2, (b-chance)/2)``: between ``b-delta``
and ``b+delta`` the test makes no promise either way.

The qualifier is not part of this test (it decided entry already); the Beta posterior
(``annotator.py``) is still what the decision *reports* (accuracy and interval) and what the
acceptance uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .annotator import AnnotatorPosterior, chance_accuracy

MODEL_VERSION = "sprt-1"
ALPHA_WARN = 0.20
ALPHA_PAUSE = 0.05
ALPHA_REVOKE = 0.01
BETA = 0.05
MAX_DELTA = 0.10
HORIZON = 300
FLOOR_FACTOR = 2.0
FIRST_PASSAGE_SHARE = 0.7
STANDINGS = ("active", "warned", "paused", "revoked")


@dataclass(frozen=True)
class SprtDesign:
    bar: float
    delta: float
    alpha_warn: float = ALPHA_WARN
    alpha_pause: float = ALPHA_PAUSE
    alpha_revoke: float = ALPHA_REVOKE
    beta: float = BETA

    def __post_init__(self) -> None:
        if not (0 < self.delta and 0 < self.bar - self.delta and self.bar + self.delta < 1):
            raise ValueError(f"need 0 < bar-delta < bar+delta < 1, got bar={self.bar} delta={self.delta}")
        if not (0 < self.alpha_revoke <= self.alpha_pause <= self.alpha_warn < 1 and 0 < self.beta < 1):
            raise ValueError("need 0 < alpha_revoke <= alpha_pause <= alpha_warn < 1 and 0 < beta < 1")

    @property
    def p0(self) -> float:
        return self.bar + self.delta

    @property
    def p1(self) -> float:
        return self.bar - self.delta

    @property
    def step_correct(self) -> float:
        return math.log(self.p1 / self.p0)

    @property
    def step_wrong(self) -> float:
        return math.log((1 - self.p1) / (1 - self.p0))

    def _upper(self, alpha: float) -> float:
        return math.log(1 / (FIRST_PASSAGE_SHARE * alpha))

    @property
    def warn_at(self) -> float:
        return self._upper(self.alpha_warn)

    @property
    def pause_at(self) -> float:
        return self._upper(self.alpha_pause)

    @property
    def revoke_at(self) -> float:
        return self._upper(self.alpha_revoke)

    @property
    def floor(self) -> float:
        return FLOOR_FACTOR * math.log(self.beta / (1 - self.alpha_pause))

    @property
    def kl_bad(self) -> float:
        """Expected climb of the walk per check for an annotator at ``p1`` (KL(p1 || p0))."""
        p0, p1 = self.p0, self.p1
        return p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))

    @property
    def horizon(self) -> int:
        """Checks over which the error rates are stated: at least ``HORIZON``, and three times
        the mean checks a bad annotator needs to climb from the floor to revocation."""
        return max(HORIZON, math.ceil(3 * (self.revoke_at - self.floor) / self.kl_bad))

    @property
    def version(self) -> str:
        return (
            f"{MODEL_VERSION}(p0={self.p0:.3f},p1={self.p1:.3f},alpha_pause={self.alpha_pause},"
            f"alpha_revoke={self.alpha_revoke},beta={self.beta})"
        )


def design_for(bar: float, n_labels: int) -> SprtDesign:
    """The test for a project: its bar and the indifference zone described in the module docstring."""
    chance = chance_accuracy(n_labels)
    if not (chance < bar < 1):
        raise ValueError(f"bar {bar} must lie between chance {chance:.3f} and 1")
    delta = min(MAX_DELTA, (1 - bar) / 2, (bar - chance) / 2)
    return SprtDesign(bar=bar, delta=delta)


def sprt_step(design: SprtDesign, llr: float, correct: bool) -> float:
    """The walk after one check outcome (clipped at the floor)."""
    return max(design.floor, llr + (design.step_correct if correct else design.step_wrong))


@dataclass(frozen=True)
class SprtDecision:
    standing: str
    reason: str
    changed: bool
    llr: float
    pauses: int
    evidence: dict = field(default_factory=dict)


def wilson_interval(k: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _evidence(design: SprtDesign, post: AnnotatorPosterior, llr: float, confidence: float) -> dict:
    lo, hi = post.interval(confidence)
    wlo, whi = wilson_interval(post.correct, post.checks)
    return {
        "model": design.version,
        "checks": post.checks,
        "correct": post.correct,
        "accuracy": round(post.mean, 4),
        "interval": [round(lo, 4), round(hi, 4)],
        "interval_kind": f"Beta posterior, {confidence:.0%} equal-tailed",
        "raw_accuracy": round(post.correct / post.checks, 4) if post.checks else None,
        "wilson_95": [round(wlo, 4), round(whi, 4)],
        "llr": round(llr, 4),
        "thresholds": {
            "warn": round(design.warn_at, 4), "pause": round(design.pause_at, 4),
            "revoke": round(design.revoke_at, 4), "floor": round(design.floor, 4),
        },
        "bar": design.bar,
        "p_good": design.p0,
        "p_bad": design.p1,
        "alpha_pause": design.alpha_pause,
        "alpha_revoke": design.alpha_revoke,
        "beta": design.beta,
    }


def _facts(design: SprtDesign, post: AnnotatorPosterior, ev: dict) -> str:
    lo, hi = ev["interval"]
    return (
        f"{post.correct} of {post.checks} hidden check answers correct; estimated accuracy {post.mean:.0%} "
        f"(interval {lo:.0%}-{hi:.0%}); project bar {design.bar:.0%}"
    )


def gate_sprt(
    design: SprtDesign,
    *,
    llr: float,
    standing: str,
    pauses: int,
    post: AnnotatorPosterior,
    confidence: float = 0.9,
    facts: str | None = None,
) -> SprtDecision:
    """Next standing given the walk ``llr`` (already including the latest check). Pure.

    ``pauses``: how often this annotator was paused on this project before. Never un-revokes
    and never un-pauses (the tutorial does that; see the module docstring). ``facts``: the
    sentence the reasons quote (default: the hidden checks' accuracy; subjective projects
    describe their repeats instead).
    """
    if standing not in STANDINGS:
        raise ValueError(f"unknown standing {standing!r}")
    ev = _evidence(design, post, llr, confidence)
    facts = facts or _facts(design, post, ev)

    def out(new: str, reason: str, new_pauses: int = pauses) -> SprtDecision:
        ev2 = dict(ev, decision=new, previous=standing, pauses=new_pauses)
        return SprtDecision(new, reason, new != standing, llr, new_pauses, ev2)

    if standing == "revoked":
        return out("revoked", f"Access revoked earlier; {facts}.")
    if llr >= design.revoke_at and pauses >= 1:
        return out(
            "revoked",
            f"Access revoked: {facts}. After going back to the tutorial, the checks still show accuracy "
            f"credibly below the bar (a test that revokes someone truly at {design.p0:.0%} at most "
            f"{design.alpha_revoke:.0%} of the time).",
        )
    if standing == "paused":
        return out("paused", f"Paused: go through the tutorial again to resume; {facts}.")
    if llr >= design.pause_at and pauses == 0:
        return out(
            "paused",
            f"Paused: {facts}. The checks show accuracy credibly below the bar (a test that pauses someone "
            f"truly at {design.p0:.0%} at most {design.alpha_pause:.0%} of the time). Go through the "
            "tutorial again; completing it lets you work again.",
            pauses + 1,
        )
    if llr >= design.warn_at:
        return out(
            "warned",
            f"Warning: {facts}. Review the instructions; work is paused, and then access removed, if "
            "accuracy stays credibly below the bar.",
        )
    if standing == "warned" and llr > 0:
        return out("warned", f"Still on warning: {facts}.")
    return out("active", f"In good standing: {facts}." if standing == "active" else f"Warning lifted: {facts}.")


@dataclass(frozen=True)
class WalkState:
    """What a caller without a database (the crowd replay) keeps per annotator."""

    llr: float = 0.0
    standing: str = "active"
    pauses: int = 0


def gate_step(design: SprtDesign, state: WalkState, correct: bool, post: AnnotatorPosterior,
              *, resume_after_pause: bool = True) -> tuple[WalkState, SprtDecision]:
    """One check through the walk and the decision, for callers that keep their own state
    (``quality.replay``). With ``resume_after_pause`` a pause is followed at once by the
    tutorial (the replay has no tutorial): the returned state is active again."""
    llr = sprt_step(design, state.llr, correct)
    d = gate_sprt(design, llr=llr, standing=state.standing, pauses=state.pauses, post=post)
    standing = "active" if (d.standing == "paused" and resume_after_pause) else d.standing
    return WalkState(llr, standing, d.pauses), d


@dataclass(frozen=True)
class ErrorRates:
    n: int
    horizon: int
    accuracy: float
    paused: float
    revoked: float
    mean_checks_to_pause: float | None
    mean_checks_to_revoke: float | None


def simulate_error_rates(design: SprtDesign, accuracy: float, *, n: int = 10_000, horizon: int | None = None,
                         seed: int = 0) -> ErrorRates:
    """Share of ``n`` simulated annotators of true ``accuracy`` paused / revoked within
    ``horizon`` checks (a paused annotator comes back from the tutorial at once, with the same
    accuracy: the worst case). Vectorised over annotators; it applies the thresholds of
    :func:`gate_sprt`, and a test checks both agree path by path."""
    import numpy as np

    horizon = design.horizon if horizon is None else horizon
    rng = np.random.default_rng(seed)
    llr = np.zeros(n)
    pauses = np.zeros(n, dtype=int)
    revoked = np.zeros(n, dtype=bool)
    t_pause = np.full(n, -1)
    t_revoke = np.full(n, -1)
    for t in range(1, horizon + 1):
        ok = rng.random(n) < accuracy
        live = ~revoked
        llr = np.where(live, np.maximum(design.floor, llr + np.where(ok, design.step_correct, design.step_wrong)), llr)
        rev = live & (llr >= design.revoke_at) & (pauses >= 1)
        revoked |= rev
        t_revoke[rev] = t
        pau = live & ~rev & (llr >= design.pause_at) & (pauses == 0)
        pauses[pau] += 1
        t_pause[pau] = t
    p = t_pause[t_pause > 0]
    r = t_revoke[t_revoke > 0]
    return ErrorRates(
        n=n, horizon=horizon, accuracy=accuracy, paused=float((pauses > 0).mean()), revoked=float(revoked.mean()),
        mean_checks_to_pause=float(p.mean()) if p.size else None,
        mean_checks_to_revoke=float(r.mean()) if r.size else None,
    )
