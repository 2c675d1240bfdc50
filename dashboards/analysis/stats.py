"""Group differences in labels, pure computation (numpy/scipy/statsmodels, no Django).

Input is a list of ``Obs`` (item, annotator, group, label-or-rating). Groups are already
merged and suppressed by the caller (``dashboards.analysis.demographics``).

Which test, by task type:

- **Categorical labels** (``categorical``): groups × labels contingency table of answers;
  chi-square test of independence; effect size Cramér's V. Small counts: label columns whose
  expected count is below 5 in some group are merged into one "(other labels)" column (least
  frequent first) until every expected count is ≥ 5 or two columns are left; if it is then a
  2×2 table that still has an expected count below 5, Fisher's exact test gives the p-value.
  The method actually used is returned in ``method``.
- **Ordinal ratings** (``ordinal``): the same items compared across groups, so that easier or
  cuter items rated more by one group cannot fake a difference. Per item, each group's mean
  rating. Two groups: on the items both rated, the per-item difference (first group minus
  second); the test is below; effect sizes: mean difference with
  a t-interval over items, and Cliff's delta between the two groups' ratings of those items.
  The Wilcoxon test takes items as independent, but the same annotators rate many items: a
  few people who use the scale generously would look like a group effect (measured: with
  personal offsets and no group effect, Wilcoxon says p < 0.05 in most simulated projects).
  So the p-value reported is an **annotator permutation test**: the annotators' group labels
  shuffled (group sizes kept, 1,000 permutations), statistic = the mean per-item difference;
  it holds its level whether items or annotators carry the noise. Wilcoxon's p is kept in
  ``detail`` for comparison.
  Three or more groups: Kruskal-Wallis on the item-centred group means (each group's mean on
  an item minus that item's mean over groups; items rated by ≥ 2 groups), effect size
  epsilon-squared = H / (n − 1).
  The item is the unit: items are taken as independent, annotators within a group are pooled.

Across attributes, p-values are corrected with Holm's step-down method (``holm``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from scipy.stats.contingency import association, expected_freq
from statsmodels.stats.multitest import multipletests

MIN_EXPECTED = 5
OTHER_LABELS = "(other labels)"


@dataclass(frozen=True)
class Obs:
    item: int
    annotator: int
    group: str
    value: str | float  # label (categorical) or rating (ordinal)


@dataclass
class GroupTest:
    kind: str  # categorical | ordinal
    method: str  # the test used, in words
    groups: list[str]
    p_value: float | None
    statistic: float | None
    effect_name: str
    effect: float | None
    detail: dict = field(default_factory=dict)  # tables, per-group figures, intervals
    note: str = ""
    p_holm: float | None = None

    @property
    def testable(self) -> bool:
        return self.p_value is not None


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (None stays None and is not counted as a comparison)."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not idx:
        return out
    _, adj, _, _ = multipletests([p_values[i] for i in idx], method="holm")
    for i, p in zip(idx, adj):
        out[i] = float(p)
    return out


# --- categorical --------------------------------------------------------------------------------

def _merge_sparse(table: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Merge the least frequent label columns into one until every expected count is ≥ 5 (or
    only two columns are left). Returns the table, its column names and the merged labels."""
    merged: list[str] = []
    table, labels = table.copy(), list(labels)
    while table.shape[1] > 2 and expected_freq(table).min() < MIN_EXPECTED:
        order = [j for j in np.argsort(table.sum(axis=0), kind="stable") if labels[j] != OTHER_LABELS]
        j = order[0]
        merged.append(labels[j])
        col = table[:, j]
        table = np.delete(table, j, axis=1)
        del labels[j]
        if OTHER_LABELS in labels:
            table[:, labels.index(OTHER_LABELS)] += col
        else:
            table = np.column_stack([table, col])
            labels.append(OTHER_LABELS)
    return table, labels, merged


def categorical_test(obs: list[Obs]) -> GroupTest:
    groups = sorted({o.group for o in obs})
    labels = sorted({str(o.value) for o in obs})
    gi, li = {g: i for i, g in enumerate(groups)}, {lab: j for j, lab in enumerate(labels)}
    table = np.zeros((len(groups), len(labels)), dtype=np.int64)
    for o in obs:
        table[gi[o.group], li[str(o.value)]] += 1
    detail = {"labels": labels, "table": table.tolist(),
              "shares": (table / np.maximum(table.sum(axis=1, keepdims=True), 1)).round(4).tolist()}
    base = dict(kind="categorical", groups=groups, effect_name="Cramér's V")
    if len(groups) < 2 or len(labels) < 2:
        return GroupTest(method="none", p_value=None, statistic=None, effect=None, detail=detail,
                         note="Needs at least two groups and two labels.", **base)
    tested, tested_labels, merged = _merge_sparse(table, labels)
    tested = tested[:, tested.sum(axis=0) > 0]
    detail.update(tested_labels=tested_labels, tested_table=tested.tolist(), merged_labels=merged)
    v = float(association(tested, method="cramer")) if tested.shape[1] >= 2 else None
    if tested.shape == (2, 2) and expected_freq(tested).min() < MIN_EXPECTED:
        _, p = stats.fisher_exact(tested)
        return GroupTest(method="Fisher's exact test (2×2, expected count < 5)", p_value=float(p), statistic=None,
                         effect=v, detail=detail, **base)
    chi2, p, dof, _ = stats.chi2_contingency(tested, correction=False)
    method = "chi-square test of independence"
    if merged:
        method += f" (sparse labels merged into {OTHER_LABELS!r}: {', '.join(merged)})"
    note = "" if expected_freq(tested).min() >= MIN_EXPECTED else "Some expected counts are still below 5: read the p-value with care."
    detail["dof"] = int(dof)
    return GroupTest(method=method, p_value=float(p), statistic=float(chi2), effect=v, detail=detail, note=note, **base)


# --- ordinal --------------------------------------------------------------------------------------

def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """P(A > B) − P(A < B) over all pairs (ties count for neither), by sorting: O(n log n)."""
    a, b = np.asarray(a, float), np.sort(np.asarray(b, float))
    if not len(a) or not len(b):
        return float("nan")
    below = np.searchsorted(b, a, side="left")  # b values < a
    above = len(b) - np.searchsorted(b, a, side="right")  # b values > a
    return float((below.sum() - above.sum()) / (len(a) * len(b)))


def _item_group_means(obs: list[Obs]) -> dict[int, dict[str, list[float]]]:
    by: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in obs:
        by[o.item][o.group].append(float(o.value))
    return by


def annotator_permutation_p(obs: list[Obs], first: str, second: str, *, permutations: int = 1000,
                            seed: int = 0, block: int = 250) -> float:
    """Two-sided p of the mean per-item difference (``first`` − ``second``) when the annotators'
    group labels are shuffled (sizes kept). Matrix form: items × annotators, a block of
    permutations at a time."""
    obs = [o for o in obs if o.group in (first, second)]
    items = {i: k for k, i in enumerate(sorted({o.item for o in obs}))}
    people = sorted({o.annotator for o in obs})
    col = {a: k for k, a in enumerate(people)}
    values = np.zeros((len(items), len(people)))
    counts = np.zeros((len(items), len(people)))
    for o in obs:
        values[items[o.item], col[o.annotator]] += float(o.value)
        counts[items[o.item], col[o.annotator]] += 1
    group_of = {o.annotator: o.group for o in obs}
    in_first = np.array([group_of[a] == first for a in people], dtype=float)
    total_v, total_c = values.sum(axis=1, keepdims=True), counts.sum(axis=1, keepdims=True)

    def stat(assign: np.ndarray) -> np.ndarray:  # assign: people × P (1 = first group)
        sa, ca = values @ assign, counts @ assign
        sb, cb = total_v - sa, total_c - ca
        ok = (ca > 0) & (cb > 0)
        diff = np.where(ok, sa / np.where(ca > 0, ca, 1) - sb / np.where(cb > 0, cb, 1), 0.0)
        return diff.sum(axis=0) / np.maximum(ok.sum(axis=0), 1)

    observed = abs(float(stat(in_first[:, None])[0]))
    rng = np.random.default_rng(seed)
    extreme = 0
    done = 0
    while done < permutations:
        n = min(block, permutations - done)
        assign = np.stack([rng.permutation(in_first) for _ in range(n)], axis=1)
        extreme += int((np.abs(stat(assign)) >= observed - 1e-12).sum())
        done += n
    return (1 + extreme) / (permutations + 1)


def ordinal_test(obs: list[Obs], *, confidence: float = 0.95) -> GroupTest:
    groups = sorted({o.group for o in obs})
    per_item = _item_group_means(obs)
    means = {g: float(np.mean([float(o.value) for o in obs if o.group == g])) for g in groups}
    detail: dict = {"group_means": means, "answers": {g: sum(1 for o in obs if o.group == g) for g in groups}}
    base = dict(kind="ordinal", groups=groups)
    if len(groups) < 2:
        return GroupTest(method="none", p_value=None, statistic=None, effect_name="", effect=None, detail=detail,
                         note="Needs at least two groups.", **base)
    if len(groups) == 2:
        a, b = groups
        shared = sorted(i for i, g in per_item.items() if a in g and b in g)
        diffs = np.array([np.mean(per_item[i][a]) - np.mean(per_item[i][b]) for i in shared])
        detail.update(items_compared=len(shared), pair=[a, b])
        if len(shared) < 5:
            return GroupTest(method="none", p_value=None, statistic=None, effect_name="mean difference", effect=None,
                             detail=detail, note="Fewer than 5 items were rated by both groups.", **base)
        mean = float(diffs.mean())
        sd = float(diffs.std(ddof=1))
        half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1) * sd / np.sqrt(len(diffs))) if sd > 0 else 0.0
        ra = np.array([v for i in shared for v in per_item[i][a]])
        rb = np.array([v for i in shared for v in per_item[i][b]])
        detail.update(mean_difference=mean, ci=[mean - half, mean + half], confidence=confidence,
                      cliffs_delta=cliffs_delta(ra, rb), per_item_differences=diffs.round(4).tolist())
        if not np.any(diffs != 0):
            return GroupTest(method="Wilcoxon signed-rank on per-item mean differences", p_value=1.0, statistic=0.0,
                             effect_name=f"mean difference ({a} − {b})", effect=mean, detail=detail,
                             note="Both groups gave the same mean on every shared item.", **base)
        w = stats.wilcoxon(diffs, zero_method="wilcox")
        p_perm = annotator_permutation_p(obs, a, b)
        detail.update(p_wilcoxon=float(w.pvalue), p_annotator_permutation=p_perm)
        return GroupTest(method="per-item mean differences, p by permuting annotators between groups "
                         "(Wilcoxon signed-rank p shown too)", p_value=p_perm,
                         statistic=mean, effect_name=f"mean difference ({a} − {b})", effect=mean,
                         detail=detail, **base)
    centred: dict[str, list[float]] = defaultdict(list)
    items = 0
    for gm in per_item.values():
        if len(gm) < 2:
            continue
        items += 1
        m = {g: float(np.mean(v)) for g, v in gm.items()}
        centre = float(np.mean(list(m.values())))
        for g, v in m.items():
            centred[g].append(v - centre)
    detail.update(items_compared=items, centred_means={g: float(np.mean(v)) for g, v in centred.items()})
    samples = [centred[g] for g in groups if len(centred[g]) >= 2]
    if len(samples) < 2 or items < 5:
        return GroupTest(method="none", p_value=None, statistic=None, effect_name="epsilon-squared", effect=None,
                         detail=detail, note="Fewer than 5 items were rated by two or more groups.", **base)
    flat = np.concatenate(samples)
    if np.all(flat == flat[0]):
        return GroupTest(method="Kruskal-Wallis on item-centred group means", p_value=1.0, statistic=0.0,
                         effect_name="epsilon-squared", effect=0.0, detail=detail, note="All values are equal.", **base)
    h, p = stats.kruskal(*samples)
    n = len(flat)
    return GroupTest(method="Kruskal-Wallis on item-centred group means", p_value=float(p), statistic=float(h),
                     effect_name="epsilon-squared", effect=float(h / (n - 1)), detail=detail, **base)


def group_test(kind: str, obs: list[Obs], *, confidence: float = 0.95) -> GroupTest:
    if kind == "ordinal":
        return ordinal_test(obs, confidence=confidence)
    return categorical_test(obs)
