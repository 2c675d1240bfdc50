"""Map the one-coin model probability to an honest per-item P(label correct).

Fitted on shadow deliveries (model probability at decision time, was the label right?):
isotonic regression (pool-adjacent-violators) on the model probability, each block's rate
shrunk toward the overall shadow accuracy with ``SHRINK`` pseudo-items (a block of 3 items
can't claim 100 %). An item gets the value of the block whose model-probability range contains
its value (below the first block: the first block; between blocks: the lower one, i.e. the
conservative side). With no shadow data the map is the identity and says so (``fitted=False``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SHRINK = 5.0


@dataclass(frozen=True)
class Calibration:
    # blocks as (lowest model p in block, calibrated value), sorted by model p
    blocks: tuple[tuple[float, float], ...] = ()
    n: int = 0
    overall: float | None = None

    @property
    def fitted(self) -> bool:
        return bool(self.blocks)

    def apply(self, p_model: float) -> float:
        if not self.blocks:
            return float(p_model)
        value = self.blocks[0][1]
        for start, v in self.blocks:
            if p_model >= start:
                value = v
            else:
                break
        return value


def fit_calibration(samples: Iterable[tuple[float, bool]], prior_mean: float | None = None) -> Calibration:
    """Fit from (model probability, correct) pairs.

    Blocks shrink toward this sample's own rate, which is itself shrunk toward ``prior_mean``
    (e.g. the whole project's shadow accuracy when fitting one stratum) or, without one, Laplace's (k+1)/(n+2).
    """
    pts = sorted((float(p), 1.0 if c else 0.0) for p, c in samples)
    n = len(pts)
    if n == 0:
        if prior_mean is None:
            return Calibration()
        return Calibration(blocks=((0.0, prior_mean),), n=0, overall=prior_mean)
    k = sum(c for _, c in pts)
    overall = (k + 1.0) / (n + 2.0) if prior_mean is None else (k + SHRINK * prior_mean) / (n + SHRINK)
    # PAVA on raw outcomes: blocks [start_p, sum, count]
    blocks: list[list[float]] = []
    for p, c in pts:
        blocks.append([p, c, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            s, cnt = blocks[-1][1], blocks[-1][2]
            blocks.pop()
            blocks[-1][1] += s
            blocks[-1][2] += cnt
    out = []
    for start, s, cnt in blocks:
        out.append((start, (s + SHRINK * overall) / (cnt + SHRINK)))
    # shrinkage can break monotonicity slightly; restore it on the conservative side
    # (a block never claims more than any block above it)
    mono: list[tuple[float, float]] = []
    low = 1.0
    for start, v in reversed(out):
        low = min(low, v)
        mono.append((start, low))
    mono.reverse()
    return Calibration(blocks=tuple(mono), n=n, overall=overall)
