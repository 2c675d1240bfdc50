"""Writes for annotators: sign-up, joining a project, tutorial, qualifier, tasking, standing.

Standing and the known-check rate are decided by the quality engine; quality calls
:func:`membership_standing_set` and :func:`membership_check_rate_set` to record them.
"""
from .accounts import annotator_signup
from .onboarding import QualifierResult, membership_join, qualifier_submit, qualifier_wait_remaining, tutorial_complete
from .standing import membership_check_rate_set, membership_standing_set
from .tasking import task_next, task_submit
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
    "QualifierResult", "annotator_signup", "membership_check_rate_set", "membership_join", "membership_standing_set",
    "qualifier_submit", "qualifier_wait_remaining", "task_next", "task_submit", "tutorial_complete",
    "annotator_activate", "annotator_make_active", "annotator_suspend", "annotator_unsuspend", "audience_set",
    "email_verification_send", "email_verify", "identity_check_record", "invitation_respond", "invitations_send",
    "invitations_widen", "profile_flag_resolve", "profile_update", "survey_completions_unpaid", "survey_create",
    "survey_open_set", "survey_question_add", "survey_submit",
]
