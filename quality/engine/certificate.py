"""A delivery batch's accuracy certificate (pure Python, no Django).

Two sources of evidence:

* the **model** claim: shadow deliveries on the project's hidden known-answer items,
  post-stratified by decision status and calibrated P(correct) and weighted by *this batch's*
  items (``quality.engine.claim.items_claim``, the very call behind the delivery API's claim and
  the crowd replay's); a sample of how the acceptance procedure does on this crowd, its counts
  divided by a design effect because its outcomes are correlated (the larger of
  ``SHADOW_DESIGN_EFFECT`` and the clustering by shared annotators measured on the sample). It is honest only as far as the
  known items, within a post-stratum, are as hard as the delivered ones. Per-class precision
  and recall come from the shadow outcomes too (delivered label vs known label):
  :func:`class_metrics`.
* the **audit**: a random sample of the batch itself, stratified by delivered label, with an
  elusion sample for rare classes, checked by reviewers (:func:`audit_estimates`). It measures
  the very items delivered, so it needs no model assumption: the one evidence that is unbiased
  for the delivered items.

How they are combined (:func:`certify`), decided for issue 4: **both bounds must hold.** The
certificate's lower bound is the smaller of the model's and the audit's one-sided lower bounds
(its upper bound the larger of the two upper bounds), and the batch is *certified* only when that
lower bound reaches the target, i.e. only when both do (an intersection-union test).

Its error rate: the reported lower bound is above the batch's true accuracy with probability at
most ``1 - confidence`` as soon as *either* bound is valid, because min(L_model, L_audit) > p
requires L_audit > p. The audit's bound is valid by design (a random sample of the batch; the
Jeffreys-posterior quantile has about nominal frequentist coverage), so with an audit the
certificate stays honest even when the known items are easier than the batch and the model
over-claims; without one it is as honest as the model claim. When both are valid the error is
at most the smaller of the two, so the rule is conservative. Its price: an audit can only lower
the bound, never raise it (48 of 50 right bounds the accuracy at about 0.89 at 95 %), so
certifying a 0.95 target with an audit takes an audit sized for it (``sampling.sample_size``).

Rejected: pooling the model's and the audit's effective counts when the model's estimate lies
inside the audit's two-sided interval, the audit alone otherwise (:func:`pooled_if_agreeing`,
the rule before issue 4's certificate change, kept so the tests and ``bench/certificate.py`` can
show why). That pre-test lets a model biased by easy known items through whenever a small audit
cannot tell the difference, and then the pooled counts inherit its bias; its error rate is not
bounded by the stated confidence.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .estimate import DeliveryClaim, clopper_pearson

DRAWS = 20_000
SEED = 20261122


@dataclass(frozen=True)
class Bound:
    estimate: float | None
    n: float
    lower: float
    upper: float

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def proportion(k: int, n: int, confidence: float) -> Bound:
    """k of n with one-sided Clopper-Pearson bounds at ``confidence``."""
    lo, hi = clopper_pearson(k, n, confidence)
    return Bound(estimate=(k / n) if n else None, n=n, lower=lo, upper=hi)


def class_metrics(
    pairs: Iterable[tuple[str, str]], labels: Sequence[str], confidence: float
) -> list[dict[str, Any]]:
    """Per class: precision (of items delivered as c, share truly c) and recall (of items truly
    c, share delivered as c), each k of n with one-sided Clopper-Pearson bounds.
    ``pairs`` are (delivered label, true label) of a simple random sample."""
    pairs = list(pairs)
    out = []
    for c in labels:
        tp = sum(1 for d, t in pairs if d == c and t == c)
        delivered_c = sum(1 for d, _ in pairs if d == c)
        true_c = sum(1 for _, t in pairs if t == c)
        out.append({
            "label": c,
            "precision": proportion(tp, delivered_c, confidence).as_dict(),
            "recall": proportion(tp, true_c, confidence).as_dict(),
        })
    return out


@dataclass(frozen=True)
class AuditEstimate:
    accuracy: Bound
    per_class: list[dict[str, Any]]
    reviewed: int
    correct: int
    n_eff: float
    k_eff: float
    two_sided: tuple[float, float]
    method: str


def audit_estimates(
    strata: Mapping[str, int],
    reviewed: Iterable[tuple[str, str]],
    labels: Sequence[str],
    confidence: float,
    *,
    rare_below: float = 0.1,
    draws: int = DRAWS,
) -> AuditEstimate:
    """Stratified estimates from reviewed audit samples.

    ``strata``: delivered label → items of the batch delivered with it (N_h).
    ``reviewed``: (stratum = delivered label, reviewer's label) per reviewed sample; the random
    and the elusion samples of a stratum are pooled (each is a uniform random draw from it).

    In each stratum h the true-label shares θ_h get a Jeffreys Dirichlet posterior
    (counts + 1/2). Monte Carlo draws of every θ_h give: accuracy Σ N_h θ_hh / N; precision of
    c = θ_cc; recall of c = N_c θ_cc / (N_c θ_cc + Σ_{h≠c} N_h θ_hc); elusion rate of c (share
    of items delivered with other labels that are truly c). Bounds are the (1 - confidence)
    and confidence quantiles (one-sided, as every claim here). Fixed seed: deterministic.
    """
    labels = list(labels)
    idx = {c: i for i, c in enumerate(labels)}
    K = len(labels)
    counts: dict[str, np.ndarray] = {h: np.zeros(K) for h in strata}
    n_rev = k_rev = 0
    for h, true in reviewed:
        if h not in counts or true not in idx:
            continue
        counts[h][idx[true]] += 1
        n_rev += 1
        k_rev += int(true == h)
    N = float(sum(strata.values()))
    rng = np.random.default_rng(SEED)
    correct_mass = np.zeros(draws)
    tp = np.zeros((draws, K))
    true_mass = np.zeros((draws, K))  # Σ_h N_h θ_hc
    precision: dict[str, np.ndarray] = {}
    for h in sorted(strata):
        n_h = float(strata[h])
        if n_h <= 0 or h not in idx:
            continue
        theta = rng.dirichlet(counts[h] + 0.5, size=draws)
        c = idx[h]
        correct_mass += n_h * theta[:, c]
        tp[:, c] += n_h * theta[:, c]
        true_mass += n_h * theta
        precision[h] = theta[:, c]
    a = 1.0 - confidence

    def bound(samples: np.ndarray, n: int) -> Bound:
        return Bound(
            estimate=float(np.mean(samples)), n=n,
            lower=float(np.quantile(samples, a)), upper=float(np.quantile(samples, confidence)),
        )

    acc = correct_mass / N if N else np.zeros(draws)
    per_class = []
    for c in labels:
        i = idx[c]
        n_c = float(strata.get(c, 0))
        reviewed_c = int(counts[c].sum()) if c in counts else 0
        true_reviewed = int(sum(counts[h][i] for h in counts))
        entry: dict[str, Any] = {"label": c, "delivered": int(n_c)}
        entry["precision"] = bound(precision[c], reviewed_c).as_dict() if c in precision else None
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = np.where(true_mass[:, i] > 0, tp[:, i] / true_mass[:, i], np.nan)
        rec = rec[~np.isnan(rec)]
        entry["recall"] = bound(rec, true_reviewed).as_dict() if rec.size else None
        others = N - n_c
        if others > 0:
            el = (true_mass[:, i] - tp[:, i]) / others
            n_el = int(sum(counts[h].sum() for h in counts if h != c))
            entry["elusion_rate"] = bound(el, n_el).as_dict()
            entry["rare"] = bool(N and n_c / N < rare_below)
        per_class.append(entry)
    mean, var = float(np.mean(acc)), float(np.var(acc))
    if var > 0 and 0 < mean < 1:
        n_eff = max(0.0, mean * (1 - mean) / var - 1.0)
    else:
        n_eff = float(n_rev)
    lo2, hi2 = float(np.quantile(acc, (1 - confidence) / 2)), float(np.quantile(acc, 1 - (1 - confidence) / 2))
    return AuditEstimate(
        accuracy=bound(acc, n_rev),
        per_class=per_class,
        reviewed=n_rev,
        correct=k_rev,
        n_eff=n_eff,
        k_eff=mean * n_eff,
        two_sided=(lo2, hi2),
        method=f"stratified by delivered label, Jeffreys Dirichlet posterior per stratum, {draws} Monte Carlo "
        "draws (fixed seed); one-sided quantile bounds",
    )


@dataclass(frozen=True)
class Combined:
    estimate: float | None
    lower: float
    upper: float
    n: float
    source: str  # "model" | "audit" | "model+audit"
    explanation: str


def pooled_if_agreeing(
    *, model_correct: float, model_n: float, design_effect: float, audit: AuditEstimate | None, confidence: float
) -> Combined:
    """The rejected rule (see the module docstring): the model's raw counts after the design
    effect, pooled with the audit's effective counts when the model's estimate lies inside the
    audit's two-sided interval, the audit alone otherwise. Not used by the certificate."""
    k_m, n_m = model_correct / design_effect, model_n / design_effect
    if audit is None or audit.reviewed == 0:
        lo, hi = clopper_pearson(k_m, n_m, confidence)
        return Combined(
            estimate=(model_correct / model_n) if model_n else None, lower=lo, upper=hi, n=model_n, source="model",
            explanation="No audit results yet: the model estimate alone (shadow deliveries on known-answer items).",
        )
    p_model = (model_correct / model_n) if model_n else None
    lo2, hi2 = audit.two_sided
    if p_model is None or not (lo2 <= p_model <= hi2):
        a = audit.accuracy
        why = "no model estimate" if p_model is None else (
            f"the model estimate {p_model:.4f} lies outside the audit's two-sided interval [{lo2:.4f}, {hi2:.4f}]"
        )
        return Combined(
            estimate=a.estimate, lower=a.lower, upper=a.upper, n=audit.reviewed, source="audit",
            explanation=f"Audit alone ({why}): direct evidence on the delivered items wins over the model.",
        )
    k = k_m + audit.k_eff
    n = n_m + audit.n_eff
    lo, hi = clopper_pearson(k, n, confidence)
    return Combined(
        estimate=k / n if n else None, lower=lo, upper=hi, n=model_n + audit.reviewed, source="model+audit",
        explanation=(
            f"The model estimate {p_model:.4f} lies inside the audit's two-sided interval [{lo2:.4f}, {hi2:.4f}]: "
            f"effective counts pooled (model {k_m:.1f}/{n_m:.1f} after its design effect {design_effect:g}, audit "
            f"{audit.k_eff:.1f}/{audit.n_eff:.1f} from its posterior), Clopper-Pearson on the pooled counts."
        ),
    )


@dataclass(frozen=True)
class Certified:
    estimate: float | None
    lower: float
    upper: float
    n: float
    source: str  # "model" | "audit" | "model+audit" (both bounds apply)
    bound_from: str  # "model" | "audit": the source whose lower bound is reported
    certified: bool
    explanation: str


def certify(*, model: DeliveryClaim | None, audit: AuditEstimate | None, target: float, confidence: float) -> Certified:
    """The certificate's headline from the model claim and the audit: both bounds must hold
    (see the module docstring). The estimate and n are those of the source whose lower bound is
    reported (``bound_from``); the interval spans both sources' one-sided bounds."""
    has_model = model is not None and model.n > 0
    has_audit = audit is not None and audit.reviewed > 0
    pct = f"{confidence:.0%}"
    if not has_audit:
        if not has_model:
            return Certified(None, 0.0, 1.0, 0, "model", "model", False,
                             "No evidence yet: no shadow delivery on a known-answer item and no audit result.")
        return Certified(
            model.accuracy, model.lower, model.upper, model.n, "model", "model", bool(model.lower >= target),
            f"No audit results yet: the model claim alone (shadow deliveries on known-answer items, weighted by this "
            f"batch's items; {model.method}). One-sided bounds at {pct}; honest as far as the known items represent "
            "the batch's items within each post-stratum.",
        )
    a = audit.accuracy
    if not has_model:
        return Certified(
            a.estimate, a.lower, a.upper, audit.reviewed, "audit", "audit", bool(a.lower >= target),
            f"Audit alone (no shadow delivery on a known-answer item): {audit.correct} of {audit.reviewed} reviewed "
            f"items right, stratified by delivered label; one-sided bounds at {pct}.",
        )
    audit_binds = a.lower <= model.lower
    lower = min(a.lower, model.lower)
    upper = max(a.upper, model.upper)
    est, n = (a.estimate, audit.reviewed) if audit_binds else (model.accuracy, model.n)
    return Certified(
        est, lower, upper, n, "model+audit", "audit" if audit_binds else "model", bool(lower >= target),
        f"Both bounds must hold: model lower bound {model.lower:.4f} (n={model.n} shadow deliveries), audit lower "
        f"bound {a.lower:.4f} ({audit.correct} of {audit.reviewed} reviewed right); the smaller, the "
        f"{'audit' if audit_binds else 'model'}'s, is reported, and the batch is certified only if both reach the "
        f"target. One-sided bounds at {pct}: the reported bound is honest when either source is (the audit is a "
        "random sample of this batch).",
    )
