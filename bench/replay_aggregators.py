"""Issue 4 diagnostic: on the answers each replay run actually used, would another aggregator
have labelled the delivered items better than Cadre's delivered label?

    .venv/bin/python bench/replay_aggregators.py d_sentiment,zhang_rte,zhang_dog 1,2,3,4,5 [DATA_DIR]

For each set and seed (seed s draws the 10 % known split with ``random.Random(s)``, as
``bench/replay_splits.py``): ``quality.replay.run_replay`` with a trace of every answer it
consumed (checks included), then on exactly those answers crowd-kit 1.4.2 majority vote,
Dawid-Skene (unsupervised, and semi-supervised with the known items' labels), one-coin DS,
GLAD and MACE, and our own ``engine.em.dawid_skene`` (known items clamped; 50 and 200
iterations; unclamped). Also prints, per run, the final re-estimate's tau = 1
P of the delivered label on items decided below the cap against their calibrated P. Accuracy on the split's held-out gold items, printed as the difference
to crowd-kit Dawid-Skene over ALL answers (the issue's yardstick). Libraries are baselines only.
GLAD and MACE make it slow (minutes per set).
"""
from __future__ import annotations

import collections
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np
import pandas as pd
from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene
from replay_all import variant_sets

from quality.engine import prior_from_qualifier
from quality.engine.confusion import confusion_prior
from quality.engine.em import dawid_skene
import quality.replay as R
from quality.replay import run_replay

_TAU1: list = []  # (final tau = 1 P of the delivered label, its calibrated P), one per delivered_label call
_delivered_label = R.delivered_label


def _spy(labels, log_prior, evidence, tau, eps=0.0):
    lab, p = _delivered_label(labels, log_prior, evidence, tau, eps)
    s = np.asarray(log_prior, dtype=float) + np.asarray(evidence, dtype=float)
    q = np.exp(s - s.max())
    _TAU1.append((float(q[list(labels).index(lab)] / q.sum()), p))
    return lab, p


R.delivered_label = _spy


def _str(pred) -> dict:
    return {str(k): str(v) for k, v in pred.items()}


def main() -> None:
    seeds, sets = variant_sets(sys.argv)
    for name, answers, gold, items, ds_all in sets:
        res = collections.defaultdict(list)
        for s in seeds:
            known = set(random.Random(s).sample(items, round(0.1 * len(items))))
            trace: list = []
            _TAU1.clear()
            delivered, summary = run_replay(answers, [(i, gold[i]) for i in sorted(known)], seed=s, trace=trace)
            ours = {r["item"]: r["label"] for r in delivered}
            held = [i for i in items if i not in known and i in ours]
            # why the accepting posterior is surer than the delivered P: on items decided below the
            # cap, the final re-estimate's tau = 1 P against the calibrated P and the observed rate
            below = [(q, p, r["label"] == gold[r["item"]]) for (q, p), r in zip(_TAU1[-len(delivered):], delivered)
                     if r["item"] in held and r["answers_used"] < R.DEFAULT_CAP]
            if below:
                print(f"{name} {s}: tau {summary['tau']} eps {summary['eps']}; {len(below)} items below the cap: "
                      f"final tau=1 P {np.mean([b[0] for b in below]):.3f} (>= 0.95: {np.mean([b[0] >= 0.95 for b in below]):.2f}), "
                      f"calibrated P {np.mean([b[1] for b in below]):.3f}, observed {np.mean([b[2] for b in below]):.3f}", flush=True)

            def acc(pred: dict) -> float:
                return sum(pred.get(i) == gold[i] for i in held) / len(held)

            rows = [(it, w, lab) for _, it, w, lab in trace]
            df = pd.DataFrame([{"task": it, "worker": w, "label": lab} for it, w, lab in rows])
            tl = pd.Series({i: gold[i] for i in known})
            out = {"ours": acc(ours), "DS all answers": acc(ds_all)}
            out["MV"] = acc(_str(MajorityVote().fit_predict(df)))
            out["ck DS"] = acc(_str(DawidSkene(n_iter=100).fit_predict(df)))
            out["ck DS + known"] = acc(_str(DawidSkene(n_iter=100).fit(df, true_labels=tl).labels_))
            out["one-coin"] = acc(_str(OneCoinDawidSkene(n_iter=100).fit_predict(df)))
            out["GLAD"] = acc(_str(GLAD(n_iter=100).fit_predict(df)))
            out["MACE"] = acc(_str(MACE(n_iter=50, n_restarts=3).fit_predict(df)))
            labels = sorted({lab for *_, lab in rows} | {gold[i] for i in known})
            pa = np.array(confusion_prior(labels, prior_from_qualifier(None, None, len(labels))).counts)
            for tag, kn, iters in (("our DS 50", known, 50), ("our DS 200", known, 200), ("our DS unclamped", (), 200)):
                r = dawid_skene(labels, rows, {i: gold[i] for i in kn}, {}, pa, iters=iters, tol=1e-7)
                out[tag] = acc({it: labels[int(np.argmax(r.log_prior + r.evidence[j]))] for j, it in enumerate(r.items)})
            for k, v in out.items():
                res[k].append(v)
            print(name, s, " ".join(f"{k}={v:.4f}" for k, v in out.items()), flush=True)
        base = np.mean(res["DS all answers"])
        print(f"== {name} (minus DS over all answers, {len(seeds)} splits): "
              + ", ".join(f"{k} {np.mean(v) - base:+.4f}" for k, v in res.items() if k != "DS all answers"), flush=True)


if __name__ == "__main__":
    main()
