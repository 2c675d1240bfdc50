"""Writes for customers, projects, items, leases and answers, one module per job.

Each public function is one transaction. Cross-app work is never imported upward: an
answer starts scoring by enqueueing the Celery task ``quality.score_answer`` by name
after commit (``enqueue.task_enqueue``). Callers import from ``tasks_app.services``;
the modules below are how the code is kept, not a public surface of their own.
"""
from . import conversations, idempotency
from .skips import lease_skip, skip_reason_clean
from .answers import SIGNAL_BOUNDS, answer_signals_clean, answer_submit, item_decision_apply
from .enqueue import BROKER_ERRORS, SCORE_TASK, task_enqueue
from .items import MAX_UPLOAD_ERRORS, UploadResult, data_shape, describe_shapes, item_image_size_report, items_upload
from .leases import EXPIRE_EVERY_SECONDS, lease_next, leases_expire, leases_release
from .projects import ExampleIn, example_roles_split, project_create, project_launch
from .deliveries import batch_certificate_set, batch_cut, batch_request, items_reopen, undelivered
from .exports import FORMATS as EXPORT_FORMATS, batch_export, export_problem
from .idempotency import fingerprint, idempotency_begin, idempotency_finish, idempotency_keys_purge
from .phases import project_phase_advance, project_pilot_approve, project_pilot_start, project_spec_revise, projects_advance
from .webhooks import delivery_attempt, deliveries_due, event_emit, signature, signature_verify, webhook_create, webhook_deactivate

__all__ = [
    "BROKER_ERRORS", "EXPIRE_EVERY_SECONDS", "MAX_UPLOAD_ERRORS", "SCORE_TASK", "ExampleIn", "UploadResult",
    "SIGNAL_BOUNDS", "answer_signals_clean", "answer_submit", "data_shape", "describe_shapes", "example_roles_split", "item_decision_apply",
    "items_upload", "lease_next", "leases_expire", "leases_release", "project_create", "project_launch",
    "task_enqueue",
    # workbench skips and two-person conversations (issue 6)
    "conversations", "item_image_size_report", "lease_skip", "skip_reason_clean",
    # deliveries, phases, webhooks, exports, idempotency (issue 5)
    "EXPORT_FORMATS", "batch_certificate_set", "batch_cut", "batch_export", "batch_request", "deliveries_due", "export_problem",
    "delivery_attempt", "event_emit", "fingerprint", "idempotency_begin", "idempotency_finish",
    "idempotency_keys_purge", "items_reopen", "project_phase_advance", "project_pilot_approve", "project_pilot_start",
    "project_spec_revise", "projects_advance", "signature", "signature_verify", "undelivered", "webhook_create",
    "webhook_deactivate",
]
