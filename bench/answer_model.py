"""Answer-quality model on SYNTHETIC annotators: held-out AUC, written to BENCHMARKS.md.

There is no public data set with per-answer behaviour (time on task, pastes, focus changes)
next to known-answer outcomes, so this benchmark generates one. It is synthetic, and says so:
the AUC shows that the features and the model pick up the behaviours simulated here, not how
much real annotators' behaviour predicts their errors (that needs production data: the model
retrains itself on Cadre's own known-answer outcomes, ``quality.answer_model_retrain``).

Simulated annotators (seeded), each working in sessions with 30+ minute breaks:

* diligent (55 %): skill 0.80-0.95, own pace (median 5-12 s); 10 % of answers are lapses —
  3x faster than their own pace and right only at chance + (skill - chance) / 3;
* fatigued (15 %): skill 0.92 falling by 0.006 per answer into a session;
* spammers (15 %): ~1.5 s per answer, repeat their previous label 70 % of the time;
* distracted (15 %): skill 0.85, but an answer with 3+ focus changes (Poisson mean 2) or a
  paste is right only 60 % of the time.

Items have a difficulty d ~ Beta(2, 5): P(correct) = skill (1 - d) + chance d. 20 % of items
are known-answer items: the model trains on the outcomes there (75 %) and is scored on the
held-out 25 %. The features are built by exactly the code scoring uses
(``quality.engine.answer_model.FeatureBuilder``), in time order.

    python bench/answer_model.py [--annotators 300] [--seed 7] [--no-write]
"""
from __future__ import annotations

import argparse
import math
import random
import re
import time

from _django import ROOT  # noqa: E402  (puts the repository root on sys.path)

from quality.engine import answer_model as am  # noqa: E402

LABELS = ["a", "b", "c"]
CHANCE = 1 / len(LABELS)


def simulate(n_annotators: int, n_items: int, seed: int):
    rng = random.Random(seed)
    items = [(i, rng.choice(LABELS), rng.betavariate(2, 5), rng.random() < 0.2) for i in range(n_items)]
    answers = []  # (t, annotator, item, label, duration_ms, signals, correct, known)
    kinds = []
    for a in range(n_annotators):
        u = rng.random()
        kind = "diligent" if u < 0.55 else "fatigued" if u < 0.70 else "spammer" if u < 0.85 else "distracted"
        kinds.append(kind)
        skill = rng.uniform(0.80, 0.95) if kind == "diligent" else 0.92 if kind == "fatigued" else 0.85
        pace = rng.uniform(5, 12) if kind != "spammer" else 1.5
        t = rng.uniform(0, 3 * 86400)
        todo = rng.sample(items, rng.randint(60, 220))
        pos, prev = 0, None
        for it, truth, d, known in todo:
            if pos >= rng.randint(40, 80):
                t += rng.uniform(1800, 20000)
                pos = 0
            focus = _poisson(rng, 2.0 if kind == "distracted" else 0.3)
            paste = 1 if rng.random() < (0.08 if kind == "distracted" else 0.01) else 0
            dur = pace * math.exp(rng.gauss(0, 0.4))
            if kind == "spammer":
                label = prev if prev is not None and rng.random() < 0.7 else rng.choice(LABELS)
                dur = 1.5 * math.exp(rng.gauss(0, 0.3))
            else:
                p = skill
                if kind == "fatigued":
                    p = max(CHANCE, skill - 0.006 * pos)
                if kind == "diligent" and rng.random() < 0.10:
                    dur /= 3
                    p = CHANCE + (skill - CHANCE) / 3
                if kind == "distracted" and (focus >= 3 or paste):
                    p = 0.60
                p = p * (1 - d) + CHANCE * d
                label = truth if rng.random() < p else rng.choice([x for x in LABELS if x != truth])
            t += dur + rng.uniform(1, 4)
            signals = {"pastes": paste, "blurs": focus} if rng.random() > 0.05 else {}
            answers.append((t, a, it, label, int(dur * 1000), signals, label == truth, known))
            prev, pos = label, pos + 1
    answers.sort(key=lambda r: r[0])
    return answers, kinds


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, L = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def features(answers):
    """Time-ordered features with each annotator's running accuracy posterior from the
    known items answered before (Beta prior worth 4 answers, mean halfway chance-perfect)."""
    fb = am.FeatureBuilder()
    m0 = (1 + CHANCE) / 2
    post: dict[int, list[float]] = {}
    X, y = [], []
    for t, a, it, label, dur, signals, correct, known in answers:
        al, be = post.get(a, [4 * m0, 4 * (1 - m0)])
        x = fb.add(am.AnswerRecord(annotator=a, item=it, label=label, at=t, duration_ms=dur, signals=signals,
                                   annotator_accuracy=al / (al + be)))
        if known:
            X.append(x)
            y.append(correct)
            post[a] = [al + correct, be + (not correct)]
    return X, y


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotators", type=int, default=300)
    ap.add_argument("--items", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    answers, kinds = simulate(args.annotators, args.items, args.seed)
    X, y = features(answers)
    fitted = am.fit(X, y, seed=args.seed, baseline_col=am.FEATURES.index("annotator_accuracy"))
    secs = time.monotonic() - t0
    m = fitted.metrics
    # weights on the held-out rows, by outcome: wrong answers should weigh less
    from sklearn.model_selection import train_test_split

    _, Xte, _, yte = train_test_split(X, y, test_size=0.25, random_state=args.seed, stratify=y)
    w = [am.answer_weight_from_p(p, fitted.reference_p) for p in fitted.predict([list(x) for x in Xte])]
    w_right = sum(wi for wi, ok in zip(w, yte) if ok) / max(1, sum(yte))
    w_wrong = sum(wi for wi, ok in zip(w, yte) if not ok) / max(1, len(yte) - sum(yte))
    cmd = f"python bench/answer_model.py --annotators {args.annotators} --items {args.items} --seed {args.seed}"
    kinds_txt = ", ".join(f"{k} {kinds.count(k)}" for k in ("diligent", "fatigued", "spammer", "distracted"))
    body = f"""## Answer-quality model (SYNTHETIC annotators)

Command: `{cmd}` ({secs:.0f} s on a shared 2-core machine). Data: **synthetic**, generated by the
benchmark itself (behaviours described in `bench/answer_model.py`; no public data set pairs
per-answer behaviour with known-answer outcomes) — {args.annotators} annotators ({kinds_txt}),
{len(answers)} answers, {len(y)} on known items (base rate correct {sum(y) / len(y):.3f}).
Features built by the scoring code (`quality.engine.answer_model.FeatureBuilder`), model
`{am.ALGORITHM}`, stratified 25 % hold-out.

| measure (hold-out, n = {m['n_test']}) | value |
|---|---|
| AUC, answer-quality model | **{m['auc_test']:.3f}** |
| AUC, annotator posterior alone | {m['auc_test_annotator_accuracy_only']:.3f} |
| Brier score | {m['brier_test']:.3f} |
| mean weight, right answers | {w_right:.3f} |
| mean weight, wrong answers | {w_wrong:.3f} |

What this shows: the features and model recover the simulated behaviours (rushing against
one's own pace, one-label streaks, distraction, fatigue) beyond what the annotator's accuracy
alone tells. It does not show how well real behaviour predicts real errors; the production
model is retrained on Cadre's own known-answer outcomes (`quality.answer_model_retrain`, Celery
beat) and each stored version carries its own hold-out AUC (`AnswerQualityModel.metrics`).
"""
    print(body)
    if not args.no_write:
        write_section("answer-model", body)
    return 0


def write_section(name: str, body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
