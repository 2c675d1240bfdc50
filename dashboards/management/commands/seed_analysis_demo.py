"""``manage.py seed_analysis_demo``: demo data for /ops/projects/<id>/demographics/ and /suspects/."""
from django.core.management.base import BaseCommand

from dashboards.analysis import demo


class Command(BaseCommand):
    help = "Create the puppy-rating and headline-topic demo projects for the analysis pages. Idempotent."

    def handle(self, *args, **opts):
        d = demo.seed()
        self.stdout.write(f"Demographics: /ops/projects/{d.puppies.pk}/demographics/")
        self.stdout.write(f"Label-error suspects: /ops/projects/{d.topics.pk}/suspects/")
