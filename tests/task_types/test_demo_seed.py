"""The demo seeding (issue 6): one live project per structured task type, idempotent, and each
one's task page renders its widget for an annotator."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from tasks_app.models import Project
from tests.factories import annotator, annotator_working

pytestmark = pytest.mark.django_db
TYPES = {"multi_choice", "rating", "text", "bbox", "most_similar"}


def test_seed_demo_makes_one_live_project_per_type_and_each_page_renders():
    call_command("seed_demo", items=4, without_analysis=True, stdout=open("/dev/null", "w"))
    call_command("seed_demo", items=4, without_analysis=True, stdout=open("/dev/null", "w"))  # idempotent
    typed = Project.objects.exclude(task_type="single_choice")
    assert {p.task_type for p in typed} == TYPES and typed.count() == len(TYPES)
    for p in typed:
        assert p.status == "live" and p.items.filter(is_known=False).count() >= 12
        user = annotator()
        annotator_working(p, user)
        web = Client()
        web.force_login(user)
        html = web.get(f"/projects/{p.pk}/task/").content.decode()
        assert f'data-tw="{p.task_type}"' in html, p.task_type
