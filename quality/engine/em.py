"""Periodic re-estimate: semi-supervised Dawid-Skene (EM) over a project's answers so far.

Between re-estimates the model is updated incrementally (checks and decided items, see
:mod:`quality.engine.confusion`); the re-estimate does what the increments cannot: revise every
annotator's confusion rows and the class prior from *all* answers, including items still open,
with known items clamped to their known label. Annotator priors (qualifier, history) are the
Dirichlet priors of the M-step, so the result is a MAP estimate and never degenerate.

Cost: O(answers x iterations), numpy. It runs when a project's answers have grown by
``REFRESH_GROWTH`` since the last one (and at least ``REFRESH_MIN`` answers): a geometric
schedule, so the total work stays O(iterations / growth) per answer — O(1) amortised — and a
burst on one project never touches another project's state.

Item difficulty and correlated errors: :func:`fit_tempering` chooses the evidence temperature
``tau`` and the hard-item share ``eps`` of the calibrated posterior by maximum likelihood of the
*known* labels of known items whose label was hidden from the fit (cross-fitting), on the answer
sets their shadow deliveries used. If annotators err together on hard items, independent-
evidence posteriors are over-confident there; the fit lowers ``tau`` (capped at 1: answers are
never counted as more than independent) and/or raises ``eps`` (no item is ever more certain
than ``1 - eps`` of not being a trap).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

REFRESH_GROWTH = 0.25
REFRESH_MIN = 100
EM_ITERS = 30
EM_TOL = 1e-4
CLASS_PRIOR_ALPHA = 1.0
TAU_GRID = tuple(round(0.2 + 0.05 * i, 2) for i in range(17))  # 0.2 .. 1.0
FOLDS = 5


def refresh_due(answers_now: int, answers_at_last: int) -> bool:
    """Whether the project's model should be re-estimated (geometric schedule)."""
    return answers_now - answers_at_last >= max(REFRESH_MIN, REFRESH_GROWTH * answers_at_last)


@dataclass
class EMResult:
    items: list            # item ids, row order of ``post``
    post: np.ndarray       # (items, K) P(truth) with tau = 1 (known items: one-hot)
    evidence: np.ndarray   # (items, K) sum of answer log-likelihoods (no prior)
    counts: dict           # worker -> (K, K) Dirichlet parameters (prior + soft counts)
    log_prior: np.ndarray  # (K,) log class prior
    iterations: int

    def tempered(self, tau: float, eps: float = 0.0) -> np.ndarray:
        return _calibrated(self.log_prior[None, :], self.evidence, tau, eps)


def dawid_skene(
    labels: Sequence[str],
    answers: Sequence[tuple],
    known: Mapping[str, str],
    priors: Mapping[str, np.ndarray],
    default_prior: np.ndarray,
    *,
    iters: int = EM_ITERS,
    tol: float = EM_TOL,
    init: Mapping[str, Sequence[float]] | None = None,
) -> EMResult:
    """EM over (item, worker, label) answers; items in ``known`` are clamped to their label.

    An answer may carry a fourth element, its answer-quality weight ``w`` in [0, 1] (``None`` =
    1; ``quality.services.answer_model.answer_weight``): it counts as ``w`` of an answer in the
    M-step (``w`` x its soft count in the annotator's rows) and as ``w`` x its log-likelihood in
    the E-step — the same tempered likelihood ``engine.decide_confusion`` gives it, so the
    re-estimate and the acceptance weigh an answer alike. An answer of weight 0 is left out
    (its item still appears if another answer is on it). Weights 1 are the unweighted EM exactly.

    ``priors``: worker -> (K, K) Dirichlet prior (``default_prior`` for anyone else).
    ``init``: optional item -> distribution to start from (e.g. the online posteriors);
    otherwise start from vote shares.
    """
    k = len(labels)
    lab_ix = {lab: i for i, lab in enumerate(labels)}
    item_ix: dict[str, int] = {}
    worker_ix: dict[str, int] = {}
    ii, ww, gg, wt = [], [], [], []
    for row in answers:
        item, worker, lab = row[0], row[1], row[2]
        g = lab_ix.get(lab)
        w = 1.0 if len(row) < 4 or row[3] is None else min(1.0, max(0.0, float(row[3])))
        if g is None or w <= 0.0:
            continue
        ii.append(item_ix.setdefault(item, len(item_ix)))
        ww.append(worker_ix.setdefault(worker, len(worker_ix)))
        gg.append(g)
        wt.append(w)
    items = list(item_ix)
    workers = list(worker_ix)
    n_i, n_w = len(items), len(workers)
    ii_a, ww_a, gg_a = np.array(ii, dtype=np.int64), np.array(ww, dtype=np.int64), np.array(gg, dtype=np.int64)
    wt_a = np.array(wt, dtype=float)
    weighted = bool(len(wt_a)) and bool((wt_a < 1.0).any())
    prior = np.stack([np.asarray(priors.get(w, default_prior), dtype=float) for w in workers]) if n_w else np.zeros((0, k, k))
    clamp_rows = np.array([item_ix[it] for it in items if it in known and known[it] in lab_ix], dtype=np.int64)
    clamp_lab = np.array([lab_ix[known[it]] for it in items if it in known and known[it] in lab_ix], dtype=np.int64)

    post = np.zeros((n_i, k))
    if init is not None:
        for it, dist in init.items():
            if it in item_ix:
                post[item_ix[it]] = np.asarray(dist, dtype=float)
    missing = post.sum(axis=1) <= 0
    if missing.any() and len(clamp_rows):
        # start from what the known items alone say about each annotator (anchors EM away from
        # the label-swapped optimum a confused majority would pull vote-share starts into)
        is_known = np.zeros(n_i, dtype=bool)
        is_known[clamp_rows] = True
        onehot = np.zeros((n_i, k))
        onehot[clamp_rows, clamp_lab] = 1.0
        kc = prior.copy().reshape(n_w, k * k)
        sel = is_known[ii_a]
        for t in range(k):
            kc += np.bincount(ww_a[sel] * k * k + t * k + gg_a[sel], weights=onehot[ii_a[sel], t] * wt_a[sel],
                              minlength=n_w * k * k).reshape(n_w, k * k)
        lt = np.log(kc.reshape(n_w, k, k) / kc.reshape(n_w, k, k).sum(axis=2, keepdims=True))
        ev = np.zeros((n_i, k))
        np.add.at(ev, ii_a, lt[ww_a, :, gg_a] * wt_a[:, None])
        ev -= ev.max(axis=1, keepdims=True)
        start = np.exp(ev)
        post[missing] = (start / start.sum(axis=1, keepdims=True))[missing]
        missing = post.sum(axis=1) <= 0
    if missing.any():
        votes = np.zeros((n_i, k))
        np.add.at(votes, (ii_a, gg_a), wt_a)
        votes += 1e-3
        post[missing] = votes[missing] / votes[missing].sum(axis=1, keepdims=True)
    post = post / post.sum(axis=1, keepdims=True)
    if len(clamp_rows):
        post[clamp_rows] = 0.0
        post[clamp_rows, clamp_lab] = 1.0

    it_done = 0
    evidence = np.zeros((n_i, k))
    log_pi = np.full(k, -np.log(k))
    counts = prior.copy()
    for it_done in range(1, iters + 1):
        # M-step
        flat = prior.reshape(n_w, k * k).copy()
        cell = ww_a * (k * k) + gg_a
        for t in range(k):  # bincount: the fast scatter-add
            soft = post[ii_a, t] * wt_a if weighted else post[ii_a, t]
            flat += np.bincount(cell + t * k, weights=soft, minlength=n_w * k * k).reshape(n_w, k * k)
        counts = flat.reshape(n_w, k, k)
        theta = counts / counts.sum(axis=2, keepdims=True)
        pi = post.sum(axis=0) + CLASS_PRIOR_ALPHA
        log_pi = np.log(pi / pi.sum())
        # E-step
        log_theta = np.log(theta)
        terms = log_theta[ww_a, :, gg_a]
        if weighted:
            terms = terms * wt_a[:, None]
        evidence = np.stack([np.bincount(ii_a, weights=terms[:, t], minlength=n_i) for t in range(k)], axis=1) \
            if n_i else np.zeros((0, k))
        s = log_pi[None, :] + evidence
        s -= s.max(axis=1, keepdims=True)
        new = np.exp(s)
        new /= new.sum(axis=1, keepdims=True)
        if len(clamp_rows):
            new[clamp_rows] = 0.0
            new[clamp_rows, clamp_lab] = 1.0
        delta = float(np.abs(new - post).max()) if n_i else 0.0
        post = new
        if delta < tol:
            break
    return EMResult(
        items=items,
        post=post,
        evidence=evidence,
        counts={w: counts[j] for j, w in enumerate(workers)},
        log_prior=log_pi,
        iterations=it_done,
    )


EPS_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def _calibrated(lp: np.ndarray, ev: np.ndarray, tau: float, eps: float) -> np.ndarray:
    s = lp + tau * ev
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    return (1.0 - eps) * p + eps * np.exp(lp)


def fit_tempering(samples: Sequence[tuple[np.ndarray, np.ndarray, int]]) -> tuple[float, float]:
    """(tau, eps) maximising sum log P(known label) over (log_prior, evidence, known index) samples.

    The calibrated posterior is a two-part item-difficulty model: with probability ``1 - eps``
    the item is an ordinary one and its answers count as ``tau`` x independent evidence; with
    probability ``eps`` it is a hard item on which the crowd's answers say nothing about the
    truth (they err together), so the truth follows the class prior. Samples must come from
    fits that did not see the item's label (cross-fitting). No samples: (1.0, 0.0).
    """
    if not samples:
        return 1.0, 0.0
    lp = np.stack([s[0] for s in samples])
    ev = np.stack([s[1] for s in samples])
    y = np.array([s[2] for s in samples])
    rows = np.arange(len(y))
    best, best_ll = (1.0, 0.0), -np.inf
    for tau in TAU_GRID:
        for eps in EPS_GRID:
            ll = float(np.log(np.maximum(_calibrated(lp, ev, tau, eps)[rows, y], 1e-12)).sum())
            if ll > best_ll + 1e-9:
                best, best_ll = (float(tau), float(eps)), ll
    return best


def folds_of(items: Sequence[str], folds: int = FOLDS) -> list[list[str]]:
    """Deterministic split of known items into cross-fitting folds (sorted, round-robin)."""
    ordered = sorted(items)
    n = max(1, min(folds, len(ordered)))
    return [ordered[f::n] for f in range(n)]


@dataclass
class Refit:
    result: EMResult                  # all answers, every known item clamped
    tau: float                        # evidence temperature fitted on cross-fitted known items
    eps: float                        # share of hard items whose answers carry no information
    shadow: dict                      # known item -> (log_prior, evidence) from a fit blind to its label


def refit(
    labels: Sequence[str],
    answers: Sequence[tuple],
    known: Mapping[str, str],
    shadow_used: Mapping[str, Sequence[tuple[str, str]]],
    priors: Mapping[str, np.ndarray],
    default_prior: np.ndarray,
    *,
    iters: int = EM_ITERS,
    cross_iters: int = 15,
) -> Refit:
    """The periodic re-estimate, as production and replay both run it.

    ``answers`` are all answers so far (checks included), (item, worker, label[, weight]) as
    :func:`dawid_skene` takes them; ``shadow_used`` gives, per known item,
    the answers its shadow delivery used (worker, label). For each of ``FOLDS`` folds of the known
    items, EM runs with that fold's labels hidden and only its shadow answers present; the
    fold's (log prior, evidence) pairs fit ``tau`` and are what shadow deliveries are scored with.
    A shadow's answers enter its fold's fit at weight 1, as ``delivery.shadow_run`` decides them.
    """
    lab_ix = {lab: i for i, lab in enumerate(labels)}
    res = dawid_skene(labels, answers, known, priors, default_prior, iters=iters)
    checked = [it for it in known if shadow_used.get(it)]
    samples: list[tuple[np.ndarray, np.ndarray, int]] = []
    shadow: dict = {}
    if len(checked) >= 2:
        for fold in folds_of(checked):
            hide = set(fold)
            rows = [r for r in answers if r[0] not in hide]
            for it in fold:
                rows.extend((it, w, lab) for w, lab in shadow_used[it])
            fit = dawid_skene(labels, rows, {k: v for k, v in known.items() if k not in hide}, priors,
                              default_prior, iters=cross_iters)
            pos = {it: j for j, it in enumerate(fit.items)}
            for it in fold:
                if it in pos and known[it] in lab_ix:
                    shadow[it] = (fit.log_prior, fit.evidence[pos[it]])
                    samples.append((fit.log_prior, fit.evidence[pos[it]], lab_ix[known[it]]))
    tau, eps = fit_tempering(samples)
    return Refit(result=res, tau=tau, eps=eps, shadow=shadow)


def tempered_distribution(log_prior, evidence, tau: float, eps: float = 0.0) -> np.ndarray:
    """Calibrated P(truth) for one item (see :func:`fit_tempering`)."""
    return _calibrated(np.asarray(log_prior, dtype=float), np.asarray(evidence, dtype=float), tau, eps)


def delivered_label(labels: Sequence[str], log_prior, evidence, tau: float, eps: float = 0.0) -> tuple[str, float]:
    """The label a delivery shows for one item and its calibrated P(correct).

    Decision (issue 4, measured in BENCHMARKS.md "Crowd replay"): the label is the model's own
    MAP label, argmax of ``log_prior + evidence`` (``tau = 1``, what Dawid-Skene and the online
    acceptance choose), and its probability is the calibrated one (:func:`tempered_distribution`).
    Tempering is a calibration of the *probability*: ``argmax(log_prior + tau * evidence)``
    equals ``argmax(log_prior / tau + evidence)``, so choosing the label on the tempered
    posterior would raise the class prior to the power ``1 / tau`` (≈ 3 on a crowd fitted at
    ``tau`` ≈ 0.3), and the ``eps`` mixture pulls towards the commonest class too — neither was
    fitted to choose labels. Ties are broken by label text (``best_label``). The calibrated P of
    the MAP label may be below that of another label in rare cases; it is still the honest P
    of the label shown."""
    lp = np.asarray(log_prior, dtype=float)
    ev = np.asarray(evidence, dtype=float)
    s = lp + ev
    top = s.max()
    cands = [labels[i] for i in range(len(labels)) if s[i] >= top - 1e-12]
    lab = min(cands)
    dist = tempered_distribution(lp, ev, tau, eps)
    return lab, float(dist[list(labels).index(lab)])


def calibrate_posterior(post: dict, log_prior, tau: float, eps: float) -> dict:
    """Calibrated version of an untempered item posterior (label -> P), as production stores it."""
    labels = list(post)
    lp = np.asarray(log_prior, dtype=float)
    ev = np.log(np.maximum(np.array([post[lab] for lab in labels]), 1e-300)) - lp
    dist = tempered_distribution(lp, ev, tau, eps)
    return {lab: float(dist[i]) for i, lab in enumerate(labels)}
