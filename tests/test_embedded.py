"""The embedded run (`make run`: SQLite, Celery in-process) works end to end.

The rest of the suite runs on PostgreSQL; this test runs the embedded defaults in a
subprocess so that PostgreSQL-only code (row locks, SQL syntax) cannot break `make run`
unnoticed: migrate, seed the demo, then an annotator passes onboarding through the web
app, takes a task and submits it, and the answer is scored in-process.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import re
from django.test import Client
from tasks_app.models import Answer, Example, Project
from workforce.management.commands.seed_demo import DEMO_PASSWORD

project = Project.objects.get(name="Product review sentiment")
web = Client()
assert web.login(username="alice", password=DEMO_PASSWORD)
assert web.get(f"/projects/{project.pk}/").status_code == 200
tutorial = list(Example.objects.filter(project=project, role="tutorial"))
for step, ex in enumerate(tutorial, start=1):
    assert web.post(f"/projects/{project.pk}/tutorial/?step={step}", {"label": ex.label}).status_code == 200
quiz = {f"q-{ex.pk}": ex.label for ex in Example.objects.filter(project=project, role="qualifier")}
assert web.post(f"/projects/{project.pk}/qualifier/", quiz).status_code == 302
for _ in range(3):
    page = web.get(f"/projects/{project.pk}/task/").content.decode()
    form = {name: re.search(rf'name="{name}" value="([^"]*)"', page).group(1)
            for name in ("lease_id", "client_key", "started", "csrfmiddlewaretoken")}
    form["label"] = "positive"
    assert web.post(f"/projects/{project.pk}/task/", form).status_code == 302
answers = Answer.objects.filter(annotator__username="alice")
assert answers.count() == 3, answers.count()
assert not answers.filter(scored_at__isnull=True).exists(), "not scored in-process"
print("EMBEDDED-OK")
"""


def test_embedded_run_migrates_seeds_and_serves_the_task_loop(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["SQLITE_PATH"] = str(tmp_path / "embedded.sqlite3")
    env["DJANGO_SETTINGS_MODULE"] = "cadre.settings"

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        return done.stdout

    manage("migrate", "--noinput", "-v", "0")
    out = manage("seed_demo")
    assert "Customer API token" in out
    assert "Demographics: /ops/projects/" in out and "Label-error suspects: /ops/projects/" in out  # the analysis demo too
    assert "EMBEDDED-OK" in manage("shell", "-c", SCRIPT)
