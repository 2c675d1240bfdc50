"""Ops staff dashboards (issue 7): the top of the import order (dashboards → quality →
workforce → tasks_app). It reads from every app and writes only its own review records;
nothing imports it."""
from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboards"
    verbose_name = "Ops dashboards"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web too), so a task sent by name runs
        # in-process when Celery is eager (the embedded run, tests).
        from . import tasks  # noqa: F401
