"""Subjective-project gating on a simulation through the real services (PostgreSQL): how often
random / constant / consistent / +1-offset raters are paused and revoked, how many hidden
repeats it takes, and what share of the answers went to repeats.

    DATABASE_URL=postgres://…/<scratch database> .venv/bin/python bench/subjective.py [--seeds 5] [--tasks 150]

Each seed: one rating project (1–5, subjective) with raters consistent ×3, offset, random,
constant, and one most_similar project (3 candidates) with consistent ×3, random, constant;
each rater does up to ``--tasks`` tasks round robin (``tests/quality/subjective_sim.py``:
``lease_next`` with the membership's check rate, ``answer_submit``, ``answer_score``; a paused
rater does the tutorial at once). Everything runs in one transaction that is rolled back.
Writes to BENCHMARKS.md between ``<!-- bench:subjective:start -->`` and ``<!-- bench:subjective:end -->``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
START, END = "<!-- bench:subjective:start -->", "<!-- bench:subjective:end -->"

KINDS = {
    "rating": ["consistent", "consistent", "consistent", "offset", "random", "constant"],
    "most_similar": ["consistent", "consistent", "consistent", "random", "constant"],
}


NOTE = ("Reading: the SPRT walk (warn → pause → revoke) on repeat outcomes against a bar of kappa ≥ 0.25 from each rater's own chance level; consistent and +1-offset raters were never paused; a constant rater's repeats are uninformative (chance 1) and count as misses (revoked at the 5th repeat); a random rater on three candidates needs more repeats than on a 1–5 scale (chance 1/3 is closer to the bar). While a rater is probably below the bar every due slot is a repeat, hence their high repeat share; consistent raters spend 13–17 % of their answers on repeats over their first 150 (the rate's floor decays with evidence, as for known-answer checks).")


class _Rollback(Exception):
    pass


def ensure_database(url: str) -> None:
    import psycopg
    from urllib.parse import urlparse

    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=150)
    parser.add_argument("--gap", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must point at a scratch PostgreSQL database")
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    settings.CADRE_REPEAT_GAP = args.gap
    from tests.quality.subjective_sim import repeat_share, simulate

    stats: dict = defaultdict(lambda: {"raters": 0, "paused": 0, "revoked": 0, "to_revoke": [], "answers": 0, "repeats": 0})
    shares = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        with transaction.atomic():
            for task_type, kinds in KINDS.items():
                share = []
                for seed in range(args.seeds):
                    project, runs = simulate(task_type, kinds, tasks=args.tasks, seed=1000 + seed)
                    share.append(repeat_share(project))
                    for r in runs:
                        s = stats[(task_type, r.kind)]
                        s["raters"] += 1
                        s["paused"] += r.paused_at_repeat is not None
                        s["revoked"] += r.revoked_at_repeat is not None
                        if r.revoked_at_repeat is not None:
                            s["to_revoke"].append(r.revoked_at_repeat)
                        s["answers"] += r.answers
                        s["repeats"] += r.repeats
                    print(task_type, seed, [(r.kind, r.answers, r.repeats, r.paused_at_repeat, r.revoked_at_repeat) for r in runs],
                          flush=True)
                shares[task_type] = sum(share) / len(share)
            raise _Rollback
    except _Rollback:
        pass
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    load = os.getloadavg()[0]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        f"### Subjective projects: self-consistency gating on hidden repeats (simulated, {now})",
        "",
        f"`DATABASE_URL=postgres://…/cadre_scratch .venv/bin/python bench/subjective.py --seeds {args.seeds} --tasks {args.tasks} "
        f"--gap {args.gap}` — {args.seeds} seeds × (rating 1–5: consistent ×3, +1 offset, random, constant; most_similar of 3: "
        f"consistent ×3, random, constant), up to {args.tasks} tasks each through `lease_next` / `answer_submit` / "
        f"`answer_score` (a paused rater does the tutorial at once). Consistent = the item's score with p 0.85, else one step "
        f"off; offset = consistent + 1. Repeat gap {args.gap} answers. Python CPU {cpu:.0f} s (wall {wall:.0f} s, load "
        f"{load:.1f} on 2 shared cores).",
        "",
        "| type | rater | raters | paused | revoked | repeats to revoke (mean / max) | answers | repeats (share of their answers) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (task_type, kind), s in sorted(stats.items()):
        tr = s["to_revoke"]
        rev = f"{sum(tr) / len(tr):.1f} / {max(tr)}" if tr else "–"
        share = s["repeats"] / s["answers"] if s["answers"] else 0
        lines.append(f"| {task_type} | {kind} | {s['raters']} | {s['paused']} | {s['revoked']} | {rev} | {s['answers']} | "
                     f"{s['repeats']} ({share:.0%}) |")
    lines += ["", "Share of all answers spent on repeats, per project (mean over seeds): "
              + ", ".join(f"{t} {v:.1%}" for t, v in shares.items()) + ".", "", NOTE, END]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        body = path.read_text()
        if START in body and END in body:
            body = body[: body.index(START)] + text + body[body.index(END) + len(END):]
        else:
            body = body.rstrip("\n") + "\n\n" + text + "\n"
        path.write_text(body)


if __name__ == "__main__":
    main()
