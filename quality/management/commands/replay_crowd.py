"""``manage.py replay_crowd``: replay real crowd answers through Cadre's quality engine.

Thin wrapper: parses arguments, reads the CSVs, calls :func:`quality.replay.run_replay` (the same
engine functions the Celery scoring task uses), writes delivered.csv and summary.json, times it.
"""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from quality.replay import DEFAULT_CAP, run_replay


def _read(path: str, header: tuple[str, ...]) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"no such file: {path}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [h for h in header if h not in (reader.fieldnames or [])]
        if missing:
            raise CommandError(f"{path}: header must contain {','.join(header)} (missing {','.join(missing)})")
        return [{h: row[h] for h in header} for row in reader]


class Command(BaseCommand):
    help = (
        "Replay crowd answers (item,worker,label) through Cadre's production quality engine "
        "(assignment policy, scoring, gating, acceptance, delivery claim). Runs IN MEMORY: no "
        "database reads or writes. Writes delivered.csv and summary.json to --out. Deterministic "
        "for a given --seed; progress on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--answers", required=True, help="CSV with header item,worker,label")
        parser.add_argument("--known", required=True, help="CSV with header item,label (known-answer items)")
        parser.add_argument("--out", required=True, help="output directory (created if missing)")
        parser.add_argument("--target", type=float, default=0.95, help="delivery accuracy target (default 0.95)")
        parser.add_argument("--confidence", type=float, default=0.95, help="confidence of the claim (default 0.95)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--cap", type=int, default=DEFAULT_CAP, help=f"max answers per item (default {DEFAULT_CAP})"
        )

    def handle(self, *args, **opts):
        for name in ("target", "confidence"):
            if not 0.0 < opts[name] < 1.0:
                raise CommandError(f"--{name} must be between 0 and 1")
        if opts["cap"] < 1:
            raise CommandError("--cap must be >= 1")
        answers = _read(opts["answers"], ("item", "worker", "label"))
        known = _read(opts["known"], ("item", "label"))
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)

        def progress(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        t0 = time.perf_counter()
        delivered, summary = run_replay(
            answers, known, target=opts["target"], confidence=opts["confidence"], seed=opts["seed"],
            progress=progress, cap=opts["cap"],
        )
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        with (out / "delivered.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["item", "label", "p_correct", "answers_used"])
            w.writeheader()
            w.writerows(delivered)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        self.stdout.write(
            f"{summary['items_delivered']} items delivered, {summary['answers_used']} answers used, "
            f"claimed {summary['claimed_accuracy']} (lower bound {summary['claimed_lower_bound']}), "
            f"certified={summary['certified']}, {summary['seconds']}s -> {out}"
        )
