"""Answer weights in acceptance, measured on SYNTHETIC crowds with behaviour signals.

    .venv/bin/python bench/replay_weights.py [--seeds 1,2,3] [--annotators 300] [--items 2000]

The crowd data sets have no behaviour signals (every weight there is 1), so this uses the
generator of ``bench/answer_model.py`` (diligent annotators with rushed lapses, fatigued ones,
spammers, distracted ones; item difficulty; 20 % known items). Per seed: the answer-quality
model is fitted on the known items' outcomes (``quality.engine.answer_model.fit``, features from
the same ``FeatureBuilder`` scoring uses, in time order); each annotator's confusion rows are
their prior plus their checks (``engine.confusion``); each regular item then takes its answers in
time order through ``engine.decide_confusion`` (target 0.95, cap 10) until accepted or the cap,
once with every weight 1 (today's rule) and once with the model's weight of each answer
(``FittedAnswerModel.weight``, what scoring stores in ``Answer.weight``). Reported: accuracy of
the delivered labels, answers used per item, accuracy of the accepted items, and the
reliability of P(top label) at the decision (bins, observed accuracy, Wilson 95 %).
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from answer_model import LABELS, features, simulate  # noqa: E402

from quality.engine import AnnotatorPosterior, decide_confusion, wilson  # noqa: E402
from quality.engine import answer_model as am  # noqa: E402
from quality.engine.confusion import confusion_prior  # noqa: E402

BINS = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0001)


def run(seed: int, n_annotators: int, n_items: int) -> dict:
    answers, _ = simulate(n_annotators, n_items, seed)
    X, y = features(answers)
    fitted = am.fit(X, y, seed=seed, baseline_col=am.FEATURES.index("annotator_accuracy"))
    # features of every answer (same builder, same order) to weigh the regular ones
    fb = am.FeatureBuilder()
    m0 = (1 + 1 / len(LABELS)) / 2
    post: dict[int, list[float]] = {}
    rows: list[list[float]] = []
    for t, a, it, label, dur, signals, correct, known in answers:
        al, be = post.get(a, [4 * m0, 4 * (1 - m0)])
        rows.append(fb.add(am.AnswerRecord(annotator=a, item=it, label=label, at=t, duration_ms=dur, signals=signals,
                                           annotator_accuracy=al / (al + be))))
        if known:
            post[a] = [al + correct, be + (not correct)]
    probs = fitted.predict(rows)
    weight = [am.answer_weight_from_p(p, fitted.reference_p) for p in probs]
    # the generator's truth of an item: the label of any right answer on it (items nobody got
    # right are left out); each annotator starts from the same prior rows
    truth: dict[int, str] = {}
    by_item: dict[int, list[int]] = defaultdict(list)
    confs = {}
    for j, (t, a, it, label, dur, signals, correct, known) in enumerate(answers):
        if correct:
            truth[it] = label
        by_item[it].append(j)
        if a not in confs:
            confs[a] = confusion_prior(LABELS, AnnotatorPosterior(alpha=4 * m0, beta=4 * (1 - m0)))
    # the checks into each annotator's rows (the truth of a known item from any right answer)
    for t, a, it, label, dur, signals, correct, known in answers:
        if known and it in truth:
            confs[a].observe(truth[it], label)
    log_prior = [-math.log(len(LABELS))] * len(LABELS)
    out = {}
    for mode in ("weights 1", "model weights"):
        n = right = used = acc_n = acc_right = 0
        rel = defaultdict(lambda: [0, 0])
        for it, js in by_item.items():
            if answers[js[0]][7] or it not in truth:
                continue
            dec = None
            for k in range(1, min(10, len(js)) + 1):
                sub = js[:k]
                dec, _ = decide_confusion(LABELS, log_prior, [(answers[j][3], confs[answers[j][1]]) for j in sub],
                                          tau=1.0, target=0.95, cap=min(10, len(js)),
                                          weights=None if mode == "weights 1" else [weight[j] for j in sub])
                if dec.status != "more":
                    break
            ok = dec.label == truth[it]
            n += 1
            right += ok
            used += k
            if dec.status == "accepted":
                acc_n += 1
                acc_right += ok
            for lo, hi in zip(BINS, BINS[1:]):
                if lo <= dec.p_correct < hi:
                    rel[lo][0] += 1
                    rel[lo][1] += ok
        out[mode] = {"n": n, "accuracy": right / n, "per_item": used / n, "accepted": acc_n,
                     "accepted_accuracy": acc_right / max(1, acc_n), "rel": dict(rel)}
    out["auc"] = fitted.auc_test
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--annotators", type=int, default=300)
    ap.add_argument("--items", type=int, default=2000)
    args = ap.parse_args()
    total = {m: defaultdict(float) for m in ("weights 1", "model weights")}
    rel = {m: defaultdict(lambda: [0, 0]) for m in total}
    seeds = [int(s) for s in args.seeds.split(",")]
    for s in seeds:
        r = run(s, args.annotators, args.items)
        print(f"seed {s}: held-out AUC {r['auc']:.3f}", flush=True)
        for m in total:
            x = r[m]
            print(f"  {m}: accuracy {x['accuracy']:.4f}, answers per item {x['per_item']:.2f}, "
                  f"accepted {x['accepted']}/{x['n']} at accuracy {x['accepted_accuracy']:.4f}", flush=True)
            for k in ("accuracy", "per_item", "accepted_accuracy"):
                total[m][k] += x[k] / len(seeds)
            for lo, (n, k) in x["rel"].items():
                rel[m][lo][0] += n
                rel[m][lo][1] += k
    print("| rule | accuracy | answers per item | accepted items' accuracy |\n|---|---|---|---|")
    for m, x in total.items():
        print(f"| {m} | {x['accuracy']:.4f} | {x['per_item']:.2f} | {x['accepted_accuracy']:.4f} |")
    print("\n| rule | P(top) bin | n | observed | 95 % Wilson |\n|---|---|---|---|---|")
    for m in rel:
        for lo in sorted(rel[m]):
            n, k = rel[m][lo]
            hi = BINS[BINS.index(lo) + 1]
            a, b = wilson(k, n, 0.975)
            print(f"| {m} | [{lo:.2f}, {min(hi, 1.0):.2f}) | {n} | {k / n:.3f} | {a:.3f}–{b:.3f} |")


if __name__ == "__main__":
    main()
