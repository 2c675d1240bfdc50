"""Writes for customers, projects, items, leases and answers, one module per job.

Each public function is one transaction. Cross-app work is never imported upward: an
answer starts scoring by enqueueing the Celery task ``quality.score_answer`` by name
after commit (``enqueue.task_enqueue``). Callers import from ``tasks_app.services``;
the modules below are how the code is kept, not a public surface of their own.
"""
from .answers import SIGNAL_BOUNDS, answer_signals_clean, answer_submit, item_decision_apply
from .enqueue import BROKER_ERRORS, SCORE_TASK, task_enqueue
from .items import MAX_UPLOAD_ERRORS, UploadResult, data_shape, describe_shapes, items_upload
from .leases import EXPIRE_EVERY_SECONDS, lease_next, leases_expire, leases_release
from .projects import ExampleIn, example_roles_split, project_create, project_launch

__all__ = [
    "BROKER_ERRORS", "EXPIRE_EVERY_SECONDS", "MAX_UPLOAD_ERRORS", "SCORE_TASK", "ExampleIn", "UploadResult",
    "SIGNAL_BOUNDS", "answer_signals_clean", "answer_submit", "data_shape", "describe_shapes", "example_roles_split", "item_decision_apply",
    "items_upload", "lease_next", "leases_expire", "leases_release", "project_create", "project_launch",
    "task_enqueue",
]
