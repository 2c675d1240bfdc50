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
from .pay import earning_record, earnings_accrue, earnings_accrue_all, earnings_accrue_since, payout_create, project_pay_set
from .standing import membership_check_rate_set, membership_standing_set
from .tasking import conversation_next, task_next, task_skip, task_submit
# issue 3a: vetting, profiles, surveys, audience, invitations, ranking (modules of their own)
from .audience import audience_set
from .invitations import invitation_respond, invitations_send, invitations_widen
from .profiles import profile_flag_resolve, profile_update
from .surveys import survey_completions_unpaid, survey_create, survey_open_set, survey_question_add, survey_submit
from .vetting import (
    annotator_activate, annotator_make_active, annotator_suspend, annotator_unsuspend, email_verification_send,
    email_verify, identity_check_record,
)

__all__ = [
    "QualifierResult", "annotator_activate", "annotator_make_active", "annotator_signup", "annotator_suspend",
    "annotator_unsuspend", "appeal_decide", "appeal_open", "audience_set", "earning_record",
    "earnings_accrue", "earnings_accrue_all", "earnings_accrue_since", "email_verification_send", "email_verify",
    "identity_check_record", "invitation_respond", "invitations_send", "invitations_widen",
    "membership_check_rate_set", "membership_join", "membership_requalify", "membership_standing_set",
    "payout_create", "profile_flag_resolve", "profile_update", "project_pay_set", "project_requalify",
    "qualifier_draw", "qualifier_submit", "qualifier_wait_remaining", "standing_change_record",
    "survey_completions_unpaid", "survey_create", "survey_open_set", "survey_question_add", "survey_submit",
    "conversation_next", "task_next", "task_skip", "task_submit", "tutorial_complete",
]
