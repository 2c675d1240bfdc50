"""A simulated subjective project worked through the real services (``lease_next`` with the
membership's check rate, ``answer_submit``, ``answer_score``; a paused annotator goes through
``tutorial_complete`` at once, a revoked one stops). Used by ``test_subjective.py`` and
``bench/subjective.py``.

Raters see only the item's data, like a person. Each item has a true score (its number in the
data, spread over the scale); kinds:

- ``consistent``: the true score with probability 0.85, else one step off (most_similar: the
  true candidate with probability 0.85, else another at random);
- ``offset``: a consistent rater who always rates one step higher (clipped): consistent with
  themself, off against peers;
- ``random``: uniform over the scale / candidates, every time;
- ``constant``: always the same answer (4, candidate 1).
"""
from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field

from quality import services as quality_services
from tasks_app import services as task_services
from tasks_app.models import Answer, Item, Organization, Project
from workforce import services as workforce_services
from workforce.models import Membership

KINDS = ("consistent", "offset", "random", "constant")
N_CANDIDATES = 3


def _truth(data: dict, task_type: str) -> int:
    n = int(re.search(r"#(\d+)", data["text"]).group(1))
    return 1 + (n * 7) % (5 if task_type == "rating" else N_CANDIDATES)


def rater_answer(kind: str, task_type: str, data: dict, rng: random.Random):
    top = 5 if task_type == "rating" else N_CANDIDATES
    t = _truth(data, task_type)
    if kind == "random":
        return rng.randint(1, top)
    if kind == "constant":
        return 4 if task_type == "rating" else 1
    if rng.random() >= 0.85:
        if task_type == "rating":
            t = max(1, min(5, t + rng.choice((-1, 1))))
        else:
            t = rng.choice([c for c in range(1, top + 1) if c != t])
    if kind == "offset":
        t = min(top, t + 1)
    return t


def project_make(task_type: str, n_items: int, *, type_config: dict | None = None, max_answers: int = 4) -> Project:
    from tests.task_types.specs import spec

    s = spec(task_type)
    org = Organization.objects.create(name=f"sim {uuid.uuid4().hex[:8]}")
    p = task_services.project_create(
        organization=org, name=f"sim {task_type}", instructions="x", accuracy_target=0.8, task_type=task_type,
        labels=s["labels"], type_config={**s["type_config"], **(type_config or {})}, max_answers=max_answers,
        examples=[task_services.ExampleIn(**ex) for ex in s["examples"]],
    )
    task_services.items_upload(project=p, rows=[{"external_id": f"i{i}", "data": s["item_data"](i)} for i in range(n_items)])
    return task_services.project_launch(project=p)


@dataclass
class RaterRun:
    kind: str
    membership: Membership
    answers: int = 0
    repeats: int = 0
    paused_at_repeat: int | None = None
    revoked_at_repeat: int | None = None
    originals: list = field(default_factory=list)


def step(run: RaterRun, project: Project, rng: random.Random) -> bool:
    """One task for this rater; False when they cannot work (revoked, or nothing left)."""
    m = run.membership
    m.refresh_from_db()
    if m.standing == Membership.Standing.REVOKED:
        return False
    if m.standing == Membership.Standing.PAUSED:
        m = run.membership = workforce_services.tutorial_complete(membership=m)
    lease = task_services.lease_next(project=project, annotator=m.annotator, known_check_rate=m.known_check_rate, rng=rng)
    if lease is None:
        return False
    item = lease.item
    value = rater_answer(run.kind, project.task_type, item.data, rng)
    answer, _ = task_services.answer_submit(annotator=m.annotator, lease_id=lease.pk, label="", value=value,
                                            client_key=uuid.uuid4().hex)
    quality_services.answer_score(answer_id=answer.pk)
    run.answers += 1
    if item.repeat_of_id is not None:
        run.repeats += 1
        run.originals.append(item.repeat_of_id)
    m.refresh_from_db()
    if m.standing == Membership.Standing.PAUSED and run.paused_at_repeat is None:
        run.paused_at_repeat = run.repeats
    if m.standing == Membership.Standing.REVOKED and run.revoked_at_repeat is None:
        run.revoked_at_repeat = run.repeats
    return True


def simulate(task_type: str, kinds: list[str], *, tasks: int, seed: int, n_items: int | None = None,
             type_config: dict | None = None) -> tuple[Project, list[RaterRun]]:
    """Each rater in ``kinds`` does up to ``tasks`` tasks, round robin."""
    from tests.factories import annotator_working

    rng = random.Random(seed)
    project = project_make(task_type, n_items or (len(kinds) * tasks) // 2, type_config=type_config)
    runs = [RaterRun(k, annotator_working(project, qualifier=(3, 3))) for k in kinds]
    live = list(runs)
    for _ in range(tasks):
        live = [r for r in live if step(r, project, rng)]
        if not live:
            break
    return project, runs


def repeat_share(project: Project) -> float:
    c = Counter(Answer.objects.filter(project=project).values_list("item__repeat_of_id", flat=True))
    total = sum(c.values())
    return 1 - c.get(None, 0) / total if total else 0.0


def clones(project: Project):
    return Item.objects.filter(project=project, repeat_of__isnull=False)
