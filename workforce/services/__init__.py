"""Writes for annotators: sign-up, joining a project, tutorial, qualifier, tasking, standing.

Standing and the known-check rate are decided by the quality engine; quality calls
:func:`membership_standing_set` and :func:`membership_check_rate_set` to record them.
"""
from .accounts import annotator_signup
from .onboarding import QualifierResult, membership_join, qualifier_submit, qualifier_wait_remaining, tutorial_complete
from .standing import membership_check_rate_set, membership_standing_set
from .tasking import task_next, task_submit

__all__ = [
    "QualifierResult", "annotator_signup", "membership_check_rate_set", "membership_join", "membership_standing_set",
    "qualifier_submit", "qualifier_wait_remaining", "task_next", "task_submit", "tutorial_complete",
]
