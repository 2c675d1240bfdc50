"""Known-answer health of a project: how often each hidden check was served and which keys are
disputed.

*Served* = answers given on the known item (each one a check an annotator saw). A key is
**overused** when it was served more than ``OVERUSE_FACTOR`` × the mean over the project's known
items (and at least ``OVERUSE_MIN`` times): annotators who meet it repeatedly can learn it, so
the rotation should be widened (more known items). A key is **disputed** when it has an open
``KnownAnswerFlag`` (strong annotators disagree with it; ops resolve it on the flags page)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from quality.models import KnownAnswerFlag
from tasks_app.models import Item, Project

OVERUSE_FACTOR = 2.0
OVERUSE_MIN = 5


@dataclass(frozen=True)
class KnownRow:
    item_id: int
    external_id: str
    served: int
    in_rotation: bool
    overused: bool
    disputed: bool


@dataclass
class KnownHealth:
    known_total: int = 0
    in_rotation: int = 0
    mean_served: float = 0.0
    rows: list[KnownRow] = field(default_factory=list)  # overused or disputed only, most served first

    @property
    def overused(self) -> int:
        return sum(r.overused for r in self.rows)

    @property
    def disputed(self) -> int:
        return sum(r.disputed for r in self.rows)


def known_health(*, project: Project) -> KnownHealth:
    items = list(
        Item.objects.filter(project=project, is_known=True, repeat_of__isnull=True)  # hidden repeats are not known answers
        .annotate(served=Count("answers")).values_list("id", "external_id", "status", "served")
    )
    if not items:
        return KnownHealth()
    disputed = set(
        KnownAnswerFlag.objects.filter(project=project, status=KnownAnswerFlag.Status.OPEN).values_list("item_id", flat=True)
    )
    mean = sum(s for *_, s in items) / len(items)
    rows = []
    for item_id, external_id, status, served in items:
        over = served >= OVERUSE_MIN and served > OVERUSE_FACTOR * mean
        if over or item_id in disputed:
            rows.append(KnownRow(item_id, external_id, served, status == Item.Status.OPEN, over, item_id in disputed))
    rows.sort(key=lambda r: (-r.served, r.item_id))
    return KnownHealth(
        known_total=len(items), in_rotation=sum(1 for *_, st, _ in items if st == Item.Status.OPEN),
        mean_served=mean, rows=rows,
    )
