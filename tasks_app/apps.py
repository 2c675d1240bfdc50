from django.apps import AppConfig


class TasksAppConfig(AppConfig):
    name = "tasks_app"
    verbose_name = "Customers, projects and tasks"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web too), so enqueueing by name
        # runs them in-process when Celery is eager (embedded run, tests).
        from . import tasks  # noqa: F401
