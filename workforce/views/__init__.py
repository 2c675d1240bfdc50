"""Annotator web app: thin views over workforce services and selectors, one module per area.

Security rule of the task page: the template never receives the item itself, only the text
to show, the lease id and form values. A hidden known-answer item is rendered by exactly
the same code path as a regular item, so the two pages cannot differ.
"""
from .account import signup
from .appeals import appeal, ops_appeal, ops_appeals
from .onboarding import qualifier, qualifier_result, tutorial
from .pay import earnings, ops_pay, ops_pay_rate, ops_payout_csv, ops_payouts
from .projects import home, project_detail
from .task import task, task_instructions, task_json, task_progress, task_skip

__all__ = ["appeal", "earnings", "home", "ops_appeal", "ops_appeals", "ops_pay", "ops_pay_rate", "ops_payout_csv", "ops_payouts",
           "project_detail", "qualifier", "qualifier_result", "signup", "task", "task_instructions", "task_json", "task_progress", "task_skip", "tutorial"]
