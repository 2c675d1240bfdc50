"""Acceptance variants measured for issue 4 and rejected (BENCHMARKS.md "Crowd replay"), kept so
the figures can be re-run. NOT production code: each variant wraps the engine functions the
replay calls (``decide_confusion``, ``known_check_rate``, ``choose_item``), chosen by
environment variables, then runs ``quality.replay.run_replay`` per split exactly as
``bench/replay_splits.py`` does (seed s: ``random.Random(s)`` draws the 10 % known items).

    NET=1 BAR=0.975 ... .venv/bin/python bench/replay_variants.py SETS SEEDS [DATA_DIR]
    e.g.  BAR=0.975 .venv/bin/python bench/replay_variants.py zhang_dog,d_sentiment 1,2,3,4,5

Variables: ``BAR`` acceptance bar instead of the target; ``CAP`` lower cap; ``NET`` agreeing
minus NET x disagreeing answers must reach min_agree; ``FUT`` futility: stop ('exhausted')
when the Polya-urn predictive probability (the item's own answer counts + 1) of reaching the
bar within the cap is < FUT (from ``FUTMIN`` answers); ``STAB`` urn concentration alpha:
accept only if the urn-predictive probability that the plurality at the cap differs from the
accepted label is <= 1 - target; ``CEIL``/``FLOORV``/``CALIB`` known-check rate ceiling, floor,
calibration checks; ``BFS=1`` give the item with the fewest answers first; ``ROUTE=…`` a
worker-aware assignment order (listed where they are defined below; ``PROVEN`` the P(accuracy <
bar) under which an asker counts as proven, default 0.05); ``WHO=1`` also prints who answered:
the mean gold accuracy (over all of a worker's answers) of the workers behind the regular answers
used, and of the answerers of held-out items delivered on unanimous answers, right vs wrong.
Prints per split and a per-set line (accuracy - DS over all answers, share of answers used,
minimum gap) and, per answers-used bucket, [held-out items, ours wrong, DS wrong, net loss].
"""
from __future__ import annotations

import bisect
import collections
import math
import os
import random
import sys
import time
from math import lgamma
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from replay_all import variant_sets

import quality.engine.acceptance as A
import quality.engine.delivery as DL
import quality.engine.policy as POL
import quality.replay as R

orig = A.decide_confusion
NET = float(os.environ.get('NET', '0'))      # weight of disagreement subtracted from agree count
BAR = float(os.environ.get('BAR', '0'))      # acceptance bar override (0 = target)
FUT = float(os.environ.get('FUT', '0'))      # futility threshold on predictive P(reach)
FUTMIN = int(os.environ.get('FUTMIN', '3'))
CAP = int(os.environ.get('CAP', '0'))

def p_reach(L, thr, d, cT, cR, cO, r):
    # Polya urn DP over future answers; absorbing when L + d*(a-b) >= thr
    if L >= thr: return 1.0
    states = {(0,0,0):1.0}; reached = 0.0
    n0 = cT+cR+cO+3.0
    for j in range(r):
        new = {}
        for (a,b,o),p in states.items():
            tot = n0 + j
            for da,db,do,w in ((1,0,0,cT+1+a),(0,1,0,cR+1+b),(0,0,1,cO+1+o)):
                s=(a+da,b+db,o+do); q=p*w/tot
                if L + d*(s[0]-s[1]) >= thr: reached += q
                else: new[s]=new.get(s,0.0)+q
        states=new
    return reached

def dc(labels, log_prior, answers, *, tau, target, cap, min_agree=A.MIN_AGREE, weights=None):
    if CAP: cap = min(cap, CAP)
    bar = BAR or target
    dec, post = orig(labels, log_prior, answers, tau=tau, target=bar, cap=cap, min_agree=min_agree, weights=weights)
    label = dec.label
    if dec.status == 'accepted' and NET:
        n_dis = sum(1 for lab, c in answers if c is not None and lab != label)
        n_agree = sum(1 for lab, c in answers if c is not None and lab == label)
        if n_agree - NET*n_dis < min_agree:
            st = 'exhausted' if len(answers) >= cap else 'more'
            dec = A.ItemDecision(st, label, dec.p_correct)
    if dec.status == 'more' and FUT and len(answers) >= FUTMIN:
        srt = sorted(post, key=lambda x: -post[x]); T, Rr = srt[0], srt[1]
        L = math.log(max(post[T],1e-300)) - math.log(max(post[Rr],1e-300))
        thr = math.log(bar/(1-bar))
        ds = [c.loglik(T) for lab,c in answers if c is not None and lab == T]
        iT, iR = labels.index(T), labels.index(Rr)
        d = sum(ll[iT]-ll[iR] for ll in ds)/len(ds) if ds else 0.0
        cT = sum(1 for lab,c in answers if c is not None and lab==T)
        cR = sum(1 for lab,c in answers if c is not None and lab==Rr)
        cO = sum(1 for lab,c in answers if c is not None) - cT - cR
        if d <= 0 or p_reach(L, thr, d, cT, cR, cO, cap-len(answers)) < FUT:
            dec = A.ItemDecision('exhausted', label, dec.p_correct)
    return dec, post

A.decide_confusion = dc; R.decide_confusion = dc; DL.decide_confusion = dc

STAB = float(os.environ.get('STAB', '0'))
STABT = float(os.environ.get('STABT', '0'))
def compositions(r, k):
    if k == 1:
        yield (r,); return
    for i in range(r+1):
        for rest in compositions(r-i, k-1):
            yield (i,)+rest
def p_flip(counts, top, r, alpha):
    k=len(counts); N=sum(counts)
    if r<=0: return 0.0
    base = lgamma(N+k*alpha) - lgamma(N+k*alpha+r) + lgamma(r+1)
    pf=0.0
    for x in compositions(r,k):
        lp = base
        for c,xi in zip(counts,x):
            lp += lgamma(c+alpha+xi) - lgamma(c+alpha) - lgamma(xi+1)
        f=[c+xi for c,xi in zip(counts,x)]
        m=max(f)
        if f[top] < m: pf += math.exp(lp)
        elif sum(1 for v in f if v==m) > 1: pf += 0.5*math.exp(lp)
    return pf
dc_prev = dc
def dc2(labels, log_prior, answers, *, tau, target, cap, min_agree=A.MIN_AGREE, weights=None):
    dec, post = dc_prev(labels, log_prior, answers, tau=tau, target=target, cap=cap, min_agree=min_agree, weights=weights)
    if STAB and dec.status == 'accepted':
        cnt=[0]*len(labels)
        for lab,c in answers:
            if c is not None and lab in labels: cnt[labels.index(lab)]+=1
        pf = p_flip(cnt, labels.index(dec.label), cap-len(answers), STAB)
        if pf > (STABT or 1-target):
            dec = A.ItemDecision('exhausted' if len(answers)>=cap else 'more', dec.label, dec.p_correct)
    return dec, post
A.decide_confusion = dc2; R.decide_confusion = dc2; DL.decide_confusion = dc2

CEIL = float(os.environ.get('CEIL', '0')); FLOORV = float(os.environ.get('FLOORV', '0')); CALIB=int(os.environ.get('CALIB','0'))
_kcr = POL.known_check_rate
def kcr(post, *, bar=0.75, **kw):
    if CEIL: kw['ceiling']=CEIL
    if FLOORV: kw['floor']=FLOORV
    if CALIB: kw['calibration_checks']=CALIB
    return _kcr(post, bar=bar, **kw)
R.known_check_rate = kcr

BFS = os.environ.get('BFS')
if BFS:
    from quality.engine.policy import Candidate
    _ci = POL.choose_item
    def ci(cands, rng):
        return _ci([Candidate(c.item, -c.answers, c.priority) for c in cands], rng)
    R.choose_item = ci

# --- routing (issue 4, i4route): who answers which item ------------------------------------------
# ROUTE=lowp     everyone: the in-progress item whose top label is least certain first, fresh last
# ROUTE=wlowp    proven askers (P(accuracy < bar) < PROVEN, past calibration) as lowp, others default
# ROUTE=wsplit   proven as lowp; the others get fresh items first (a wrong first answer is cheap)
# ROUTE=eer      proven: the item where the asker's answer raises the expected P(top label) most
#                (expected reduction in P(error) under its confusion rows); others default
# ROUTE=eerall   everyone as eer
# ROUTE=strongfresh  proven askers start fresh items; the others finish in-progress ones (default)
# ROUTE=weakfresh    non-proven askers start fresh items; proven finish in-progress ones (default)
ROUTE = os.environ.get('ROUTE', '')
PROVEN = float(os.environ.get('PROVEN', '0.05'))
if ROUTE:
    from quality.engine.policy import CALIBRATION_CHECKS
    _ci0 = POL.choose_item

    def _proven(asker, bar):
        return asker is not None and asker.checks >= CALIBRATION_CHECKS and asker.prob_below(bar) < PROVEN

    def _ptop(c):
        return max(c.posterior.values()) if c.posterior else None

    def _gain(c, conf):
        labels = conf.labels
        k = len(labels)
        post = [c.posterior.get(l, 0.0) for l in labels] if c.posterior else [1.0 / k] * k
        base = max(post)
        exp_top = 0.0
        for g in labels:
            lik = [math.exp(v) for v in conf.loglik(g)]
            joint = [p * q for p, q in zip(post, lik)]
            exp_top += max(joint)  # P(answer g) * max_l P(l | g)
        return exp_top - base

    def _key_lowp(c, rng):
        p = _ptop(c)
        return (c.priority, p is not None, -(p if p is not None else 0.0), rng.random())

    def ci(cands, rng, *, asker=None, confusion=None, bar=None):
        if not cands or asker is None:  # hidden-check picks (no asker): the production rotation
            return _ci0(cands, rng, asker=asker, confusion=confusion, bar=bar)
        pv = _proven(asker, bar)
        if ROUTE == 'lowp' or (ROUTE in ('wlowp', 'wsplit') and pv):
            return max(cands, key=lambda c: _key_lowp(c, rng))
        if ROUTE == 'wsplit' and not pv:
            return max(cands, key=lambda c: (c.priority, -c.answers, rng.random()))
        if ROUTE == 'eerall' or (ROUTE == 'eer' and pv):
            return max(cands, key=lambda c: (c.priority, _gain(c, confusion), rng.random()))
        if ROUTE == 'highp':  # everyone: the in-progress item nearest acceptance first (by P, not count)
            return max(cands, key=lambda c: (c.priority, c.posterior is not None, _ptop(c) or 0.0, rng.random()))
        if ROUTE == 'second':
            # proven: in-progress items no proven annotator has answered yet (most answers first);
            # others: items that already have a proven answer (most answers first)
            if pv:
                return max(cands, key=lambda c: (c.priority, c.answers > 0 and c.proven_answers == 0, c.answers, rng.random()))
            return max(cands, key=lambda c: (c.priority, c.proven_answers > 0, c.answers, rng.random()))
        if ROUTE == 'second1' and pv:  # only the proven side of 'second'
            return max(cands, key=lambda c: (c.priority, c.answers > 0 and c.proven_answers == 0, c.answers, rng.random()))
        if ROUTE == 'strongfresh' and pv:
            return max(cands, key=lambda c: (c.priority, -c.answers, rng.random()))
        if ROUTE == 'weakfresh' and not pv:
            return max(cands, key=lambda c: (c.priority, -c.answers, rng.random()))
        return _ci0(cands, rng, asker=asker, confusion=confusion, bar=bar)
    R.choose_item = ci


def main() -> None:
    seeds, sets = variant_sets(sys.argv)
    for name, answers, gold, items, ds in sets:
        n_pairs = len({(r["item"], r["worker"]) for r in answers})
        per = collections.defaultdict(lambda: [0, 0, 0, 0])
        who = collections.defaultdict(list)
        wtot, wok = collections.Counter(), collections.Counter()
        for r in answers:
            if r["item"] in gold:
                wtot[r["worker"]] += 1
                wok[r["worker"]] += r["label"] == gold[r["item"]]
        accs, dss, shares, gaps = [], [], [], []
        for s in seeds:
            known = set(random.Random(s).sample(items, round(0.1 * len(items))))
            t = time.process_time()
            trace = [] if os.environ.get("WHO") else None
            dl, sm = R.run_replay(answers, [(i, gold[i]) for i in sorted(known)], seed=s, trace=trace)
            cpu = time.process_time() - t
            lab = {r["item"]: r for r in dl}
            held = [i for i in items if i not in known and i in lab]
            if trace is not None:
                by_item = collections.defaultdict(list)
                for kind, it, w, lb in trace:
                    if kind == "item":
                        who["used"].append(wok[w] / wtot[w])
                        by_item[it].append((w, lb))
                for i in held:
                    if len({lb for _, lb in by_item[i]}) == 1:
                        k = "unanimous right" if lab[i]["label"] == gold[i] else "unanimous wrong"
                        who[k].append(sum(wok[w] / wtot[w] for w, _ in by_item[i]) / len(by_item[i]))
            m = sum(lab[i]["label"] == gold[i] for i in held) / len(held)
            d = sum(ds[i] == gold[i] for i in held) / len(held)
            accs.append(m)
            dss.append(d)
            shares.append(sm["answers_used"] / n_pairs)
            gaps.append(m - sm["claimed_lower_bound"])
            for i in held:
                b = per[min(lab[i]["answers_used"], 10)]
                ours, theirs = lab[i]["label"] == gold[i], ds[i] == gold[i]
                b[0] += 1
                b[1] += not ours
                b[2] += not theirs
                b[3] += (theirs and not ours) - (ours and not theirs)
            print(f"{name} seed {s}: acc {m:.4f} ds {d:.4f} diff {m - d:+.4f} share {shares[-1]:.3f} "
                  f"gap {gaps[-1]:+.3f} cpu {cpu:.1f}s", flush=True)
        print(f"== {name}: diff {sum(accs) / len(accs) - sum(dss) / len(dss):+.4f} share {sum(shares) / len(shares):.3f} "
              f"gapmin {min(gaps):+.3f}")
        for k, v in sorted(who.items()):
            print(f"  who: {k} n={len(v)} mean worker gold accuracy {sum(v) / len(v):.4f}")
        for u in sorted(per):
            print("  used", u, per[u])



# --- i4label: honest online P and a budget-aware bar (issue 4; measured, not adopted: BENCHMARKS.md
# "Crowd replay", "i4label") -------------------------------------------------------------------------
# HONEST=1: an item is accepted only if the calibrated posterior (the last re-estimate's fitted tau
# and eps, what deliveries report) of its top label also reaches the bar, not just the tau = 1 one.
# BUDGET=1: the bar rises on a ladder while the project's answers per item are projected to stay
# under half the cap (checks included): step k allows (1 - target) / 2 ** (k / 2) error (STEPEXP=1:
# / 2 ** k), at most STEPS steps, one step per re-estimate: up while the projection is below HEAD
# (0.9) x the budget, down when over it. Projection: each open item ends at the mean of the decided
# items that needed more answers than it has (the cap if none), checks keep their share of the
# answers; no step while fewer items are decided than open. The item -> status record is read off
# the replay's trace (the decision right after an answer on a regular item) and the re-estimate's
# reopenings, so this reproduces the measured rule without touching production code.
import numpy as _np

HONEST = os.environ.get('HONEST')
BUDGET = os.environ.get('BUDGET')
HEAD = float(os.environ.get('HEAD', '0.9'))
STEPS = int(os.environ.get('STEPS', '6'))
STEPEXP = float(os.environ.get('STEPEXP', '0.5'))
_STATE = {'tau': 1.0, 'eps': 0.0, 'step': 0, 'trace': None, 'done': {}, 'n': collections.Counter(), 'seen': 0}


def budget_bar(target: float, step: int) -> float:
    return 1.0 - (1.0 - target) / (2 ** (STEPEXP * step))


def projected_spend(done, open_, checks, known_items, cap):
    if not done or len(done) < len(open_):
        return None
    done = sorted(done)
    m = len(done)
    suffix = [0.0] * (m + 1)
    for i in range(m - 1, -1, -1):
        suffix[i] = suffix[i + 1] + done[i]
    so_far = suffix[0] + sum(open_)
    regular = suffix[0]
    for n in open_:
        i = bisect.bisect_right(done, n)
        regular += suffix[i] / (m - i) if i < m else max(n, cap)
    return regular * (1.0 + checks / max(1.0, so_far)) / (m + len(open_) + known_items)


def _sync_trace():
    tr = _STATE['trace']
    for kind, it, _, _ in tr[_STATE['seen']:]:
        if kind == 'item':
            _STATE['n'][it] += 1
    _STATE['seen'] = len(tr)


_refit = R.refit


def _refit_spy(labels, answers, *a, **kw):
    fit = _refit(labels, answers, *a, **kw)
    _STATE['tau'], _STATE['eps'] = fit.tau, fit.eps
    tr = _STATE['trace']
    if BUDGET and tr is not None:
        _sync_trace()
        done = [_STATE['n'][it] for it, d in _STATE['done'].items() if d]
        open_ = [n for it, n in _STATE['n'].items() if not _STATE['done'].get(it)]
        checks = sum(1 for kind, *_ in tr if kind == 'known')
        known_items = len({it for kind, it, *_ in tr if kind == 'known'})
        spend = projected_spend(done, open_, checks, known_items, R.DEFAULT_CAP)
        budget = 0.5 * R.DEFAULT_CAP
        if spend is not None and spend > budget:
            _STATE['step'] = max(0, _STATE['step'] - 1)
        elif spend is not None and spend < HEAD * budget:
            _STATE['step'] = min(STEPS, _STATE['step'] + 1)
    return fit


R.refit = _refit_spy
dc_prev3 = A.decide_confusion


def dc3(labels, log_prior, answers, *, tau, target, cap, min_agree=A.MIN_AGREE, weights=None):
    bar = budget_bar(target, _STATE['step']) if BUDGET else target
    dec, post = dc_prev3(labels, log_prior, answers, tau=tau, target=bar, cap=cap, min_agree=min_agree, weights=weights)
    if HONEST and dec.status == 'accepted':
        t, e = _STATE['tau'], _STATE['eps']
        lp = _np.array(log_prior)
        ev = _np.log(_np.maximum([post[lab] for lab in labels], 1e-300)) - lp
        sc = lp + t * ev
        p = _np.exp(sc - sc.max())
        p = (1 - e) * p / p.sum() + e * _np.exp(lp)
        if float(p[labels.index(dec.label)]) < bar:
            dec = A.ItemDecision('exhausted' if len(answers) >= cap else 'more', dec.label, dec.p_correct)
    tr = _STATE['trace']
    if BUDGET and tr and tr[-1][0] == 'item' and not _STATE.get('in_reopen'):  # the decision right after an answer on a regular item
        it = tr[-1][1]
        _sync_trace()
        if _STATE['n'][it] == len(answers):
            _STATE['done'][it] = dec.status != 'more'
    return dec, post


A.decide_confusion = dc3; R.decide_confusion = dc3; DL.decide_confusion = dc3
_reopen = R.reopen_decision


def _reopen_spy(labels, log_prior, answers, **kw):
    _STATE['in_reopen'] = True  # decisions made here are not the item of the last answer
    try:
        return _reopen(labels, log_prior, answers, **kw)
    finally:
        _STATE['in_reopen'] = False


R.reopen_decision = _reopen_spy
_run = R.run_replay


def _run_traced(*a, **kw):
    _STATE.update(tau=1.0, eps=0.0, step=0, trace=[], done={}, n=collections.Counter(), seen=0)
    kw.setdefault('trace', _STATE['trace'])
    kw.setdefault('routing', bool(ROUTE))  # the ROUTE= orders read the routing inputs; the others do not
    _STATE['trace'] = kw['trace']
    return _run(*a, **kw)


R.run_replay = _run_traced

if __name__ == "__main__":
    main()
