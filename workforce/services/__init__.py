"""Writes for annotators: sign-up, joining a project, tutorial, qualifier, tasking, standing,
pay (ledger, accrual, payouts) and appeals.

Standing and the known-check rate are decided by the quality engine; quality calls
:func:`membership_standing_set` and :func:`membership_check_rate_set` to record them.
"""
from .accounts import annotator_signup
from .appeals import appeal_decide, appeal_open, standing_change_record
from .onboarding import (
    QualifierResult, membership_join, membership_requalify, project_requalify, qualifier_draw, qualifier_submit,
    qualifier_wait_remaining, tutorial_complete,
)
from .pay import earning_record, earnings_accrue, earnings_accrue_all, payout_create, project_pay_set
from .standing import membership_check_rate_set, membership_standing_set
from .tasking import task_next, task_submit

__all__ = [
    "QualifierResult", "annotator_signup", "appeal_decide", "appeal_open", "earning_record", "earnings_accrue",
    "earnings_accrue_all", "membership_check_rate_set", "membership_join", "membership_requalify",
    "membership_standing_set", "payout_create", "project_pay_set", "project_requalify", "qualifier_draw",
    "qualifier_submit", "qualifier_wait_remaining", "standing_change_record", "task_next", "task_submit",
    "tutorial_complete",
]
