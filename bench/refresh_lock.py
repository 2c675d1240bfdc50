"""How long the re-estimate (``project_model_refresh``) holds the project's exclusive lock, and its
CPU, for a Cadre checkout (issue 4: scorings of the project wait for that lock).

    python bench/refresh_lock.py TREE [ANSWERS [PER_ITEM]]   # e.g. /tmp/base 5000, then . 5000

Builds ``bench/latency.py``'s world (``make_world``: one project, 100 annotators, 20 % hidden
checks) with ANSWERS answers, scores them with the drain (re-estimates not enqueued), then runs
the re-estimate three times. PER_ITEM (default 1: the latency bench's world, where every regular
item has one answer and none is decided) puts that many answers on each regular item instead
(distinct annotators, 85 % give the item's label), so items are decided and the re-estimate's
reopen/relabel pass has work. Held = time inside ``quality.services.model``'s transaction blocks
(each takes the lock first; a read from its own snapshot transaction is not counted, it takes no
lock). Python CPU = this process's, PostgreSQL = its backend's (/proc). Runs with TREE as the
working directory (Celery's Django fix-up puts the working directory first on ``sys.path``: run
from another checkout, that one's code was measured). Needs ``DATABASE_URL`` and ``REDIS_URL``;
leaves its project in that database."""
import os
import sys
import time
from contextlib import contextmanager

tree = sys.argv[1]
tree = os.path.abspath(tree)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); sys.path.insert(0, tree)
os.chdir(tree)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cadre.settings")
import django; django.setup()
import uuid
from unittest import mock

import latency
from _django import backend_cpu
from django.db import transaction as dj_tx

import quality.services.model as m
from tasks_app.models import Answer, Item, Lease

assert m.__file__.startswith(tree), m.__file__
from quality.services import pending_drain

held = [0.0]
class Shim:
    def __getattr__(self, k): return getattr(dj_tx, k)
    @contextmanager
    def atomic(self, *a, **k):
        t = time.perf_counter()
        with dj_tx.atomic(*a, **k):
            yield
        held[0] += time.perf_counter() - t
m.transaction = Shim()
n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
per_item = int(sys.argv[3]) if len(sys.argv) > 3 else 1
project, plan = latency.make_world(n, 0.2, 100)
leases = {lz.pk: lz for lz in Lease.objects.filter(pk__in=[lid for _, lid, _ in plan]).select_related("item")}
rows = [Answer(item=leases[lid].item, project=project, annotator=u, label=label, client_key=uuid.uuid4().hex,
               is_check=leases[lid].item.is_known, duration_ms=5000) for u, lid, label in plan]
if per_item > 1:  # regular answers regrouped: answer j (by item id) goes to regular item j // per_item
    import random

    rng = random.Random(2)
    regular = sorted((r for r in rows if not r.is_check), key=lambda r: r.item.pk)
    targets = sorted({r.item.pk for r in regular})
    items = Item.objects.in_bulk(targets[: (len(regular) + per_item - 1) // per_item])
    for j, r in enumerate(regular):  # make_world gives item i to annotator i % 100: a group has distinct ones
        g = j // per_item
        r.item = items[targets[g]]
        r.label = latency.LABELS[g % 3] if rng.random() < 0.85 else rng.choice(latency.LABELS)
Answer.objects.bulk_create(rows, batch_size=2000)
counts = {}
for r in rows:
    counts[r.item.pk] = counts.get(r.item.pk, 0) + 1
Item.objects.filter(project=project).update(answers_count=0)
for c in set(counts.values()):
    Item.objects.filter(pk__in=[i for i, k in counts.items() if k == c]).update(answers_count=c)
with mock.patch("quality.services.scoring.task_services.task_enqueue"):
    pending_drain(chunk=32, seconds=1e9)
decided = Item.objects.filter(project=project, is_known=False).exclude(status=Item.Status.OPEN).count()
out = []
for i in range(3):
    held[0] = 0.0
    t=time.perf_counter(); c=time.process_time(); b=backend_cpu()
    m.project_model_refresh(project_id=project.pk)
    out.append(((time.perf_counter()-t)*1000, (time.process_time()-c)*1000, (backend_cpu()-b)*1000, held[0]*1000))
print(tree, f"n={n} per_item={per_item} decided={decided}", "refresh wall / python cpu / pg cpu / lock held ms:", "; ".join(f"{w:.0f} / {c:.0f} / {p:.0f} / {h:.0f}" for w, c, p, h in out), f"load {os.getloadavg()[0]:.1f}")
