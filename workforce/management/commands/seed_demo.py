"""Load demo data for the embedded run (idempotent) and print the logins and API token."""
from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from tasks_app import services as task_services
from tasks_app.models import CustomerMember, Organization, Project
from workforce import services as wf_services
from workforce.models import AnnotatorProfile

from ._demo_types import seed_task_types

DEMO_PASSWORD = "cadre-demo-2026"
POSITIVE = [
    "Absolutely love it, works exactly as described.",
    "Great value, arrived a day early and well packed.",
    "Best headphones I have owned; the battery lasts all week.",
    "The kids adore this game, we play it every evening.",
    "Sturdy, simple to assemble and looks lovely.",
    "Customer service replaced it within two days. Impressed.",
    "Crisp screen, fast, and the keyboard feels great.",
    "Fits perfectly and the fabric is soft.",
    "Does the job quietly; my kitchen has never been cleaner.",
    "Five stars: would buy again without a second thought.",
    "Delicious coffee, rich and not bitter at all.",
    "Setup took five minutes and it just works.",
]
NEGATIVE = [
    "Broke after two days. Waste of money.",
    "Arrived scratched and the box was soaked.",
    "The battery dies within an hour, very disappointing.",
    "Instructions are useless and a screw was missing.",
    "Smells of plastic and the colour is nothing like the photo.",
    "Support never answered my three emails.",
    "Too small, returned it the same day.",
    "Loud, slow and it overheats.",
    "Stopped charging after a week.",
    "Cheap material that tore on the first wash.",
    "Tastes burnt; I poured it away.",
    "The app keeps crashing and logs me out.",
]


class Command(BaseCommand):
    help = "Create demo data (customer with API token, live project, ops user, annotators). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=60, help="Regular items in the demo project.")
        parser.add_argument("--without-analysis", action="store_true",
                            help="Skip the demographics / label-error suspects demo (manage.py seed_analysis_demo).")

    @transaction.atomic
    def handle(self, *args, **opts):
        User = get_user_model()

        def user(username: str, **extra):
            u, created = User.objects.get_or_create(username=username, defaults=extra)
            if created:
                u.set_password(DEMO_PASSWORD)
                u.save()
            return u

        org, _ = Organization.objects.get_or_create(name="Acme ML")
        customer = user("acme")
        CustomerMember.objects.get_or_create(user=customer, defaults={"organization": org})
        token, _ = Token.objects.get_or_create(user=customer)
        user("ops", is_staff=True, is_superuser=True, email="ops@example.com")
        annotators = ["alice", "bob", "carol"]
        for name in annotators:
            u = user(name)
            AnnotatorProfile.objects.get_or_create(user=u, defaults={"display_name": name.capitalize(),
                                                                     "status": AnnotatorProfile.Status.APPLICANT})
            wf_services.annotator_make_active(annotator=u, reason="Demo data: vetted and active.")

        from workforce.models import Survey

        if not Survey.objects.filter(title="About you").exists():  # a paid profile survey (issue 3a)
            ops = User.objects.get(username="ops")
            survey = wf_services.survey_create(actor=ops, title="About you", reward="0.50",
                                               description="Five questions that help projects find you.")
            for text, kind, attribute in (("How old are you?", "number", "age"), ("Your gender?", "single", "gender"),
                                          ("Highest education?", "single", "education"),
                                          ("Devices you work on?", "multi", "device"),
                                          ("Anything you are an expert in (tags, comma-separated)?", "text", "")):
                wf_services.survey_question_add(survey=survey, text=text, kind=kind, attribute=attribute)
            wf_services.survey_open_set(survey=survey, is_open=True)

        project = Project.objects.filter(organization=org, name="Product review sentiment").first()
        if project is None:
            examples = []
            for i in range(10):
                examples.append(task_services.ExampleIn(
                    data={"text": POSITIVE[i]}, label="positive",
                    explanation="The reviewer is pleased with the product or service."))
                examples.append(task_services.ExampleIn(
                    data={"text": NEGATIVE[i]}, label="negative",
                    explanation="The reviewer complains about the product or service."))
            project = task_services.project_create(
                organization=org,
                name="Product review sentiment",
                instructions="Read the product review and choose whether the reviewer's overall sentiment is "
                "positive or negative. Judge the reviewer's feeling, not the product category.",
                labels=["positive", "negative"],
                accuracy_target=0.9,
                confidence=0.95,
                examples=examples,
                qualifier_wait_seconds=60,
            )
            rows = []
            for i in range(opts["items"]):
                pool = POSITIVE if i % 2 == 0 else NEGATIVE
                rows.append({"external_id": f"review-{i + 1:04d}", "data": {"text": f"{pool[i % len(pool)]} (order #{1000 + i})"}})
            task_services.items_upload(project=project, rows=rows)
            task_services.project_launch(project=project)

        typed = seed_task_types(org)  # one project per structured task type (issue 6)

        self.stdout.write(self.style.SUCCESS("Cadre demo data is ready."))
        self.stdout.write(f"  Annotators (web app):   {', '.join(annotators)}  password: {DEMO_PASSWORD}")
        self.stdout.write(f"  Ops staff (/ops/, /admin/): ops  password: {DEMO_PASSWORD}")
        self.stdout.write(f"  Customer API token (org 'Acme ML'): {token.key}")
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        self.stdout.write(f"    curl -H 'Authorization: Token {token.key}' {base}/api/projects/")
        self.stdout.write(f"  Demo project id: {project.pk}   API docs: /api/docs/")
        self.stdout.write("  Task-type demos: " + ", ".join(f"{p.name} (id {p.pk})" for p in typed))
        if not opts["without_analysis"]:
            # by name: dashboards sits above workforce (import direction dashboards → workforce); ~2 s
            self.stdout.write("  Analysis demo (ops, /ops/projects/<id>/...):")
            call_command("seed_analysis_demo", stdout=self.stdout)
