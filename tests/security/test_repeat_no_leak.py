"""A hidden repeat (subjective projects, tasks_app.services.repeats) cannot be told from a
regular item: same data, same task page; its id, external id and status reach no annotator."""
from __future__ import annotations

import random
import re
import uuid

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from quality import services as quality_services
from tasks_app import services as task_services
from tests.factories import annotator_working
from tests.quality.subjective_sim import project_make
from tests.security.test_no_leaks import _normalise, assert_no_secrets, body_of

pytestmark = pytest.mark.django_db


def _work(project, membership, rng, *, rate):
    lease = task_services.lease_next(project=project, annotator=membership.annotator, known_check_rate=rate, rng=rng)
    a, _ = task_services.answer_submit(annotator=membership.annotator, lease_id=lease.pk, label="", value=3,
                                       client_key=uuid.uuid4().hex)
    quality_services.answer_score(answer_id=a.pk)


@override_settings(CADRE_REPEAT_GAP=2)
def test_task_page_of_a_repeat_is_the_page_of_a_regular_item():
    p = project_make("rating", 12)
    rng = random.Random(5)
    me, other = annotator_working(p, qualifier=(3, 3)), annotator_working(p, qualifier=(3, 3))
    lease = None
    for _ in range(12):
        lease = task_services.lease_next(project=p, annotator=me.annotator, known_check_rate=1.0, rng=rng)
        if lease.item.repeat_of_id is not None:
            break
        a, _ = task_services.answer_submit(annotator=me.annotator, lease_id=lease.pk, label="", value=3, client_key=uuid.uuid4().hex)
        quality_services.answer_score(answer_id=a.pk)
    clone = lease.item
    assert clone.repeat_of_id is not None
    regular = task_services.lease_next(project=p, annotator=other.annotator, known_check_rate=0.0, rng=rng)
    assert regular.item.repeat_of_id is None and not regular.item.is_known

    url = reverse("workforce:task", args=[p.pk])
    mine, theirs = Client(), Client()
    mine.force_login(me.annotator)
    theirs.force_login(other.annotator)
    repeat_body, regular_body = body_of(mine.get(url)), body_of(theirs.get(url))
    text = clone.data["text"]
    assert text in repeat_body
    assert_no_secrets(repeat_body, "task page, repeat item", known_text_ok=text)
    stripped = re.sub(r'value="[^"]*"|datetime="[^"]*"', "", repeat_body).replace(f"/projects/{p.pk}/", "")
    assert str(clone.pk) not in stripped and f"repeat-{clone.repeat_of_id}" not in repeat_body
    def norm(body, user, item_text):  # the lease countdown ticks between the two requests
        return re.sub(r'seconds="\d+">\d+ s<', 'seconds="N">N s<', _normalise(body, user, item_text))

    assert norm(repeat_body, me.annotator.username, text) == norm(
        regular_body, other.annotator.username, regular.item.data["text"])
    # submitting it answers like any task
    resp = mine.post(url, {"lease_id": lease.pk, "value": "4", "client_key": uuid.uuid4().hex, "started": "x"}, follow=True)
    assert resp.status_code == 200 and f"repeat-{clone.repeat_of_id}" not in body_of(resp)
    assert clone.answers.filter(annotator=me.annotator).exists()
