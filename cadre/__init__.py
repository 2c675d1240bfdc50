"""Cadre's Django configuration package. Importing it loads the Celery app so that
``shared_task`` decorators bind to it."""
from .celery import app as celery_app

__all__ = ["celery_app"]
