"""CPU cost of the structured task types' scoring math (issue 6): box matching (Hungarian method
on IoU), the agreement decision of an item, text normalisation. Pure Python + scipy, no database.
CPU time (``time.process_time``), so the figure does not depend much on the machine's load.

    /work/main/.venv/bin/python bench/similarity.py
"""
from __future__ import annotations

import random
import time

import _django  # noqa: E402,F401  (puts the repository root on sys.path)

from quality.engine import similarity  # noqa: E402
from tasks_app.similarity import box_f1  # noqa: E402


def boxes(rng: random.Random, n: int, classes=("a", "b", "c")) -> list[dict]:
    out = []
    for _ in range(n):
        w, h = rng.uniform(0.02, 0.2), rng.uniform(0.02, 0.2)
        out.append({"label": rng.choice(classes), "x": rng.uniform(0, 1 - w), "y": rng.uniform(0, 1 - h), "w": w, "h": h})
    return out


def jitter(rng: random.Random, bs: list[dict]) -> list[dict]:
    return [{**b, "x": max(0.0, b["x"] + rng.uniform(-0.01, 0.01))} for b in bs]


def cpu_ms(fn, repeat: int) -> float:
    t = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t) * 1000 / repeat


def main() -> None:
    rng = random.Random(7)
    rows = []
    for n in (1, 10, 50, 200):
        a = boxes(rng, n)
        b = jitter(rng, a)
        rows.append((f"box F1, {n} vs {n} boxes", cpu_ms(lambda: box_f1(a, b, 0.5), max(5, 2000 // n))))
    for k, n in ((3, 10), (10, 10), (10, 50)):
        base = boxes(rng, n)
        answers = [jitter(rng, base) for _ in range(k)]
        agree = lambda x, y: similarity.matches("bbox", {"iou": 0.5, "threshold": 0.75}, x, y)  # noqa: E731
        rows.append((f"item decision, {k} answers of {n} boxes", cpu_ms(
            lambda: similarity.decide_agreement(answers, [0.9] * k, agree, target=0.95, cap=10), 20)))
    from tasks_app.task_types import text_normalise

    text = "  Ünïcödé, TEXT — with punctuation!  " * 20
    rows.append(("text_normalise, 740 characters", cpu_ms(lambda: text_normalise(text), 2000)))
    print("| operation | CPU ms per call |\n|---|---|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} |")


if __name__ == "__main__":
    main()
