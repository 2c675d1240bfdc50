"""The claim for a set of delivered items (pure Python, no Django): one function, called by the
delivery selector (``quality.selectors.delivery``: every decided item of a project), the batch
certificate (``quality.selectors.certificates``: one batch's items) and the crowd replay
(``quality.replay``: its delivered items). So the accuracy a customer reads on the delivery, on a
batch's certificate and in the replay's honesty figures is computed one way.

The claim rests on *shadow deliveries*: each known item's shadow outcome (its decision status,
its calibrated P(correct) from a fit blind to its key, and whether the delivered label was
right). They are post-stratified by decision status and calibrated P and weighted by the mix of
the delivered items given (``estimate.post_stratified_claim``: Clopper-Pearson on the Kish
effective sample, counts divided by the design effect: the larger of ``SHADOW_DESIGN_EFFECT`` and
the clustering by shared annotators measured on the sample itself when every shadow row carries,
as a fourth element, the annotators whose answers it used — ``estimate.answerer_design_effect``).
A set of items is its own mix: a batch of hard items is weighed as hard items, whatever the
project's other batches hold.

Decision where the rest of the engine was silent: when any shadow outcome has no score (stored
before the score was kept, or a task type without a calibrated P: the structured types), the
claim falls back to the decision-status strata alone (``estimate.stratified_claim``); a delivered
item without a P (none is expected once decided) is placed in the lowest cell of its status,
the cautious side. Rows without their answerers (stored before they were kept) use the floor
alone; so does the status-only fallback.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .estimate import (
    SHADOW_DESIGN_EFFECT,
    DeliveryClaim,
    post_stratified_claim,
    stratified_claim,
)

ShadowRow = tuple  # (decision status, calibrated P or None, right?[, annotators whose answers it used])
DeliveredRow = tuple[str, float | None]  # (decision status, calibrated P or None)


def items_claim(
    shadow: Iterable[ShadowRow],
    delivered: Iterable[DeliveredRow],
    *,
    confidence: float,
    target: float,
    design_effect: float = SHADOW_DESIGN_EFFECT,
) -> DeliveryClaim:
    """The accuracy claim for the ``delivered`` items from the ``shadow`` outcomes (see the
    module docstring). An empty ``delivered`` gives the pooled shadow claim."""
    rows = list(shadow)
    shadow = [(str(st), None if p is None else float(p), bool(ok)) for st, p, ok, *_ in rows]
    answerers = [tuple(str(a) for a in r[3]) for r in rows if len(r) > 3 and r[3] is not None]
    if len(answerers) != len(rows):
        answerers = None  # the design effect is measured only when every outcome names its answerers
    delivered = [(str(st), p) for st, p in delivered]
    if any(p is None for _, p, _ in shadow):
        groups: dict[str, list[bool]] = {}
        for st, _, ok in shadow:
            groups.setdefault(st, []).append(ok)
        return stratified_claim(
            groups, dict(Counter(st for st, _ in delivered)), confidence=confidence, target=target,
            design_effect=design_effect,
        )
    return post_stratified_claim(
        shadow, [(st, 0.0 if p is None else float(p)) for st, p in delivered],
        confidence=confidence, target=target, design_effect=design_effect, answerers=answerers,
    )
