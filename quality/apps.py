from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality engine"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web too), so enqueueing by name
        # runs them in-process when Celery is eager (embedded run, tests).
        from . import tasks  # noqa: F401
